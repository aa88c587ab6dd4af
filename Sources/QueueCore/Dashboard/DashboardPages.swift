/// Server-rendered pages of the dashboard. Every value that comes from job data goes through
/// `esc` (commands and output are attacker-controlled text).
enum DashboardPages {
    static func esc(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func page(_ title: String, _ active: String, token: String, _ body: String) -> String {
        let nav = [("/", "Overview"), ("/jobs", "Jobs"), ("/queues", "Queues"), ("/dlq", "DLQ"), ("/workers", "Workers"), ("/config", "Config")]
            .map { "<a href=\"\($0.0)\"\($0.1 == active ? " class=\"active\"" : "")>\($0.1)</a>" }.joined()
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="queuectl-token" content="\(esc(token))">
        <title>\(esc(title)) · queuectl</title>
        <link rel="stylesheet" href="/static/style.css">
        <script src="/static/app.js" defer></script>
        </head><body>
        <header><strong>queuectl</strong><nav>\(nav)</nav></header>
        <main>
        \(body)
        </main></body></html>
        """
    }

    static func stateBadge(_ s: JobState) -> String { "<span class=\"badge \(s.rawValue)\">\(s.rawValue)</span>" }

    static func jobRows(_ jobs: [Job], now: Millis) -> String {
        if jobs.isEmpty { return "<tr><td colspan=\"5\" class=\"empty\">no jobs</td></tr>" }
        return jobs.map { j in
            "<tr><td><a href=\"/jobs/\(esc(j.id))\">\(esc(j.id))</a></td><td>\(stateBadge(j.state))</td>"
                + "<td>\(j.attempts)/\(j.maxRetries + 1)</td><td class=\"cmd\"><code>\(esc(j.command))</code></td>"
                + "<td>\(esc(j.lastError ?? ""))</td></tr>"
        }.joined(separator: "\n")
    }

    static let jobHead = "<tr><th>ID</th><th>State</th><th>Tries</th><th>Command</th><th>Last error</th></tr>"

    /// `recent`: the newest jobs, newest first; `metrics`: its counts and per-minute attempts.
    /// A POST form of one button, carrying the token (every state change needs it).
    static func button(_ label: String, action: String, _ fields: [(String, String)], token: String) -> String {
        "<form method=\"post\" action=\"\(esc(action))\"><input type=\"hidden\" name=\"token\" value=\"\(esc(token))\">"
            + fields.map { "<input type=\"hidden\" name=\"\(esc($0.0))\" value=\"\(esc($0.1))\">" }.joined()
            + "<button>\(esc(label))</button></form>"
    }

    /// The queues' settings with pause and resume buttons; with `summaries`, their jobs per state too.
    static func queueTable(_ settings: QueueSettings, summaries: [QueueSummary]?, token: String) -> String {
        let names = summaries?.map(\.name) ?? (settings.names.contains(QueueSettings.defaultQueue) ? settings.names : [QueueSettings.defaultQueue] + settings.names)
        let rows = names.map { n -> String in
            let q = settings[n]
            let state = q.paused ? (q.stopsRunning ? "paused, running jobs stopped" : "paused") : "active"
            let summary = summaries?.first { $0.name == n }
            let limit = q.parallel == 0 ? "no limit" : summary.map { "\($0.runningSlots) of \(q.parallel)" } ?? "at most \(q.parallel)"
            let counts = summary.map { s in [JobState.pending, .processing, .failed, .completed, .dead, .cancelled].map { "<td>\(s.counts[$0] ?? 0)</td>" }.joined() } ?? ""
            let action = q.paused ? button("Resume", action: "/queues/resume", [("name", n)], token: token)
                : button("Pause", action: "/queues/pause", [("name", n)], token: token) + button("Pause with running jobs", action: "/queues/pause", [("name", n), ("jobs", "1")], token: token)
            return "<tr><td>\(esc(n))</td><td>\(state)</td><td>\(limit)</td>\(counts)<td class=\"actions\">\(action)</td></tr>"
        }.joined()
        let head = "<tr><th>Queue</th><th>State</th><th>Running slots</th>"
            + (summaries == nil ? "" : "<th>Pending</th><th>Running</th><th>Failed</th><th>Completed</th><th>Dead</th><th>Cancelled</th>") + "<th></th></tr>"
        return "<table>\(head)\(rows)</table>"
    }

    static func queues(_ summaries: [QueueSummary], settings: QueueSettings, token: String) -> String {
        page("Queues", "Queues", token: token, """
        <h1>Queues</h1>\(queueTable(settings, summaries: summaries, token: token))
        <p class="muted">Limits: <code>queuectl queue set NAME --parallel N</code>. A paused queue starts no new job; paused with its running jobs, those are stopped (SIGSTOP) until resumed.</p>
        """)
    }

    static func overview(recent: [Job], workers: [WorkerControl.WorkerInfo], metrics: Metrics, queues: QueueSettings, now: Millis, token: String) -> String {
        let cards = JobState.allCases.map { s in
            "<a class=\"card \(s.rawValue)\" href=\"/jobs?state=\(s.rawValue)\"><span class=\"n\" data-state=\"\(s.rawValue)\">\(metrics.counts[s] ?? 0)</span><span>\(s.rawValue)</span></a>"
        }.joined()
        return page("Overview", "Overview", token: token, """
        <section class="cards">\(cards)</section>
        <section><h2>Workers <span class="n" data-workers>\(workers.count)</span></h2>\(workerTable(workers, now: now))</section>
        <section><h2>Queues</h2>\(queueTable(queues, summaries: nil, token: token))<p class="muted"><a href="/queues">jobs per queue</a></p></section>
        <section><h2>Throughput, last hour</h2>\(chart(metrics))</section>
        <section><h2>Recent jobs</h2><table>\(jobHead)\(jobRows(recent, now: now))</table></section>
        """)
    }

    /// Completed (and failed) attempts per minute as inline SVG bars.
    static func chart(_ m: Metrics) -> String {
        let top = max(1, (zip(m.completedPerMinute, m.failedPerMinute).map { $0 + $1 }).max() ?? 1)
        var bars = ""
        for i in 0..<60 {
            let ok = Double(m.completedPerMinute[i]) / Double(top) * 100
            let bad = Double(m.failedPerMinute[i]) / Double(top) * 100
            let x = i * 10
            bars += "<rect class=\"ok\" x=\"\(x)\" y=\"\(Int(100 - ok))\" width=\"8\" height=\"\(Int(ok))\"><title>\(m.completedPerMinute[i]) completed</title></rect>"
            if bad > 0 {
                bars += "<rect class=\"bad\" x=\"\(x)\" y=\"\(Int(100 - ok - bad))\" width=\"8\" height=\"\(Int(bad))\"><title>\(m.failedPerMinute[i]) failed</title></rect>"
            }
        }
        let total = m.completedPerMinute.reduce(0, +), failed = m.failedPerMinute.reduce(0, +)
        return "<svg class=\"chart\" viewBox=\"0 0 600 100\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"\(total) completed, \(failed) failed in the last hour\">\(bars)</svg>"
            + "<p class=\"muted\">\(total) attempts succeeded and \(failed) failed in the last hour (one bar per minute, oldest left).</p>"
    }

    static func workerTable(_ workers: [WorkerControl.WorkerInfo], now: Millis) -> String {
        if workers.isEmpty { return "<p class=\"muted\">No workers running. Start them with <code>queuectl worker start</code>.</p>" }
        let rows = workers.map { w -> String in
            guard let j = w.job else { return "<tr><td>\(esc(w.host))</td><td>\(w.slot)</td><td>\(w.pid)</td><td class=\"muted\">idle</td><td></td></tr>" }
            return "<tr><td>\(esc(w.host))</td><td>\(w.slot)</td><td>\(w.pid)</td><td><a href=\"/jobs/\(esc(j.id))\">\(esc(j.id))</a></td><td class=\"cmd\"><code>\(esc(j.command))</code></td></tr>"
        }.joined()
        return "<table><tr><th>Host</th><th>Worker</th><th>PID</th><th>Job</th><th>Command</th></tr>\(rows)</table>"
    }

    static let jobsPerPage = 50

    /// `slice`: page `p`'s jobs, newest first, of `total` (of the filter's state).
    static func jobs(slice: [Job], total: Int, filter: JobState?, page p: Int, now: Millis, token: String) -> String {
        let per = jobsPerPage
        let pages = max(1, (total + per - 1) / per)
        let filters = (["all"] + JobState.allCases.map(\.rawValue)).map { s in
            let active = (filter?.rawValue ?? "all") == s
            return "<a href=\"/jobs\(s == "all" ? "" : "?state=\(s)")\"\(active ? " class=\"active\"" : "")>\(s)</a>"
        }.joined()
        let q = filter.map { "state=\($0.rawValue)&" } ?? ""
        let nav = (p > 1 ? "<a href=\"/jobs?\(q)page=\(p - 1)\">← newer</a> " : "") + "page \(p) of \(pages)"
            + (p < pages ? " <a href=\"/jobs?\(q)page=\(p + 1)\">older →</a>" : "")
        return page("Jobs", "Jobs", token: token, """
        <h1>Jobs</h1><nav class="filters">\(filters)</nav>
        <table>\(jobHead)\(jobRows(slice, now: now))</table><p class="pager">\(nav) · \(total) jobs</p>
        """)
    }

    static func job(_ j: Job, logs: [(Int, String)], token: String) -> String {
        func t(_ m: Millis?) -> String { m.map { Clock.iso($0) } ?? "—" }
        var fields: [(String, String)] = [
            ("State", stateBadge(j.state) + (j.paused && j.state.isLive ? (j.stopsRunning ? " (paused, stopped while running)" : " (paused)") : "")), ("Command", "<code>\(esc(j.command))</code>"),
            ("Queue", esc(j.queue) + (j.slots != 1 ? " (\(j.slots) slots)" : "")),
            ("Attempts", "\(j.attempts) of \(j.maxRetries + 1)"), ("Priority", String(j.priority)),
            ("Created", t(j.createdAt)), ("Updated", t(j.updatedAt)), ("Next run", t(j.nextRunAt)),
            ("Working directory", "<code>\(esc(j.cwd))</code>"),
            ("Exit code", j.exitCode.map(String.init) ?? "—"), ("Last error", esc(j.lastError ?? "—")),
        ]
        if let l = j.label { fields.append(("Label", esc(l))) }
        if j.state == .processing, let h = j.workerHost {
            fields.append(("Worker", "pid \(j.workerPid.map(String.init) ?? "?") on host \(esc(Host.name(ofId: h)))"))
        }
        if !j.dependsOn.isEmpty { fields.append(("After", j.dependsOn.map { "<a href=\"/jobs/\(esc($0))\">\(esc($0))</a>" }.joined(separator: ", "))) }
        let dl = fields.map { "<dt>\($0.0)</dt><dd>\($0.1)</dd>" }.joined()
        let attempts = j.history.map { a -> String in
            let out = logs.first { $0.0 == a.number }?.1 ?? ""
            let result = a.finishedAt == nil ? "running" : (a.error ?? "exit code \(a.exitCode.map(String.init) ?? "?")")
            return "<details open><summary>Attempt \(a.number) · \(Clock.iso(a.startedAt)) · \(a.durationMs.map { Clock.humanDuration(Double($0) / 1000) } ?? "running") · \(esc(result))</summary><pre>\(out.isEmpty ? "<span class=\"muted\">(no output)</span>" : esc(out))</pre></details>"
        }.joined()
        let retry = j.state == .dead ? "<form method=\"post\" action=\"/dlq/retry\"><input type=\"hidden\" name=\"token\" value=\"\(esc(token))\"><input type=\"hidden\" name=\"id\" value=\"\(esc(j.id))\"><button>Retry</button></form>"
            : j.state.isFinished ? "<form method=\"post\" action=\"/jobs/restart\"><input type=\"hidden\" name=\"token\" value=\"\(esc(token))\"><input type=\"hidden\" name=\"id\" value=\"\(esc(j.id))\"><button>Restart</button></form>"
            : j.paused ? button("Resume", action: "/jobs/resume", [("id", j.id)], token: token)
            : button("Pause", action: "/jobs/pause", [("id", j.id)], token: token)
                + (j.state == .processing ? button("Pause and stop it", action: "/jobs/pause", [("id", j.id), ("jobs", "1")], token: token) : "")
        return page(j.id, "Jobs", token: token, """
        <h1>Job <code>\(esc(j.id))</code></h1>\(retry)<dl>\(dl)</dl>
        <h2>Attempts</h2>\(attempts.isEmpty ? "<p class=\"muted\">not run yet</p>" : attempts)
        """)
    }

    static let dlqShown = 500

    /// `dead`: the newest dead jobs, newest first, of `total`.
    static func dlq(dead: [Job], total: Int, token: String) -> String {
        let hidden = "<input type=\"hidden\" name=\"token\" value=\"\(esc(token))\">"
        let rows = dead.map { j in
            "<tr><td><a href=\"/jobs/\(esc(j.id))\">\(esc(j.id))</a></td><td class=\"cmd\"><code>\(esc(j.command))</code></td><td>\(esc(j.lastError ?? ""))</td>"
                + "<td><form method=\"post\" action=\"/dlq/retry\">\(hidden)<input type=\"hidden\" name=\"id\" value=\"\(esc(j.id))\"><button>Retry</button></form></td></tr>"
        }.joined()
        let all = dead.isEmpty ? "" : "<form method=\"post\" action=\"/dlq/retry\">\(hidden)<input type=\"hidden\" name=\"all\" value=\"1\"><button>Retry all \(total)</button></form>"
            + (total > dead.count ? "<p class=\"muted\">The newest \(dead.count) of \(total) are listed.</p>" : "")
        return page("DLQ", "DLQ", token: token, """
        <h1>Dead letter queue</h1>\(all)
        <table><tr><th>ID</th><th>Command</th><th>Last error</th><th></th></tr>\(rows.isEmpty ? "<tr><td colspan=\"4\" class=\"empty\">empty</td></tr>" : rows)</table>
        """)
    }

    static func workers(_ w: [WorkerControl.WorkerInfo], now: Millis, token: String) -> String {
        page("Workers", "Workers", token: token, "<h1>Workers</h1>\(workerTable(w, now: now))")
    }

    static func config(_ c: Config, token: String) -> String {
        let rows = Config.keys.map { k in
            "<tr><td><code>\(k.name)</code></td><td>\(esc(c.shown(k) ?? "(none)"))</td><td>\(c.isSet(k) ? "set" : "default")</td><td>\(esc(k.help))</td></tr>"
        }.joined()
        return page("Config", "Config", token: token, "<h1>Configuration</h1><p class=\"muted\">Read-only here; change it with <code>queuectl config set</code>.</p><table><tr><th>Key</th><th>Value</th><th></th><th>Meaning</th></tr>\(rows)</table>")
    }

    static func message(title: String, text: String, token: String) -> String {
        page(title, "", token: token, "<h1>\(esc(title))</h1><p>\(esc(text))</p>")
    }

    static let css = """
    :root { --bg: #fff; --fg: #1d2330; --muted: #6b7280; --line: #e5e7eb; --card: #f6f7f9; --accent: #2563eb;
      --pending: #b45309; --processing: #0e7490; --completed: #15803d; --failed: #a21caf; --dead: #b91c1c; --cancelled: #6b7280; }
    @media (prefers-color-scheme: dark) { :root { --bg: #111418; --fg: #e5e7eb; --muted: #9ca3af; --line: #2a2f38; --card: #1a1f26; --accent: #60a5fa;
      --pending: #f59e0b; --processing: #22d3ee; --completed: #4ade80; --failed: #e879f9; --dead: #f87171; --cancelled: #9ca3af; } }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.45 system-ui, sans-serif; background: var(--bg); color: var(--fg); }
    header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
    header nav a, .filters a { margin-right: .75rem; color: var(--muted); text-decoration: none; }
    header nav a.active, .filters a.active { color: var(--accent); font-weight: 600; }
    main { padding: 1rem; max-width: 1100px; margin: 0 auto; }
    a { color: var(--accent); }
    .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: .75rem; }
    .card { background: var(--card); border-radius: 10px; padding: .8rem 1rem; text-decoration: none; color: var(--fg); border-left: 4px solid var(--line); }
    .card .n { display: block; font-size: 1.8rem; font-weight: 700; }
    .card.pending { border-color: var(--pending); } .card.processing { border-color: var(--processing); } .card.completed { border-color: var(--completed); }
    .card.failed { border-color: var(--failed); } .card.dead { border-color: var(--dead); } .card.cancelled { border-color: var(--cancelled); }
    table { width: 100%; border-collapse: collapse; margin: .5rem 0; display: block; overflow-x: auto; }
    th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    td.cmd code { word-break: break-all; }
    .badge { font-size: .8rem; padding: .05rem .45rem; border-radius: 99px; border: 1px solid currentColor; }
    .badge.pending { color: var(--pending); } .badge.processing { color: var(--processing); } .badge.completed { color: var(--completed); }
    .badge.failed { color: var(--failed); } .badge.dead { color: var(--dead); } .badge.cancelled { color: var(--cancelled); }
    .muted, .empty { color: var(--muted); }
    pre { background: var(--card); padding: .75rem; border-radius: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
    dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
    dt { color: var(--muted); }
    .chart { width: 100%; height: 120px; background: var(--card); border-radius: 8px; }
    .chart .ok { fill: var(--completed); } .chart .bad { fill: var(--dead); }
    button { background: var(--accent); color: #fff; border: 0; border-radius: 6px; padding: .3rem .8rem; cursor: pointer; }
    form { display: inline; }
    """

    static let js = """
    // Live refresh of the overview's counts and workers, without reloading the page.
    (function () {
      if (!document.querySelector('[data-state]')) return;
      async function tick() {
        try {
          const r = await fetch('/api/status', { cache: 'no-store' });
          if (!r.ok) return;
          const s = await r.json();
          for (const [state, n] of Object.entries(s.counts)) {
            const el = document.querySelector('[data-state="' + state + '"]');
            if (el) el.textContent = String(n);
          }
          const w = document.querySelector('[data-workers]');
          if (w) w.textContent = String(s.workers.length);
        } catch (e) { /* the dashboard may be restarting */ }
      }
      setInterval(tick, 2000);
    })();
    """
}
