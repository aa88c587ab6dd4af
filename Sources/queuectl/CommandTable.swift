import QueueCore

/// Every command, declared once: this table parses arguments, renders --help and completions.
enum CommandTable {
    static let json = OptionSpec("json", help: "print JSON only, for scripts")

    /// A job's fields as options, for `enqueue` and `edit` (the same parsing: EnqueueCommand.flagFields).
    static let jobFields: [OptionSpec] = [
        OptionSpec("max-retries", value: "N", help: "retries after the first attempt (default: config max_retries)"),
        OptionSpec("priority", short: "p", value: "N", help: "higher runs first (default 0)"),
        OptionSpec("timeout", short: "t", value: "DURATION", help: "kill the job after this long (0 = none)"),
        OptionSpec("run-at", value: "TIME", help: "not before this ISO-8601 time"),
        OptionSpec("delay", short: "d", value: "DURATION", help: "not before this long from now: 30s, 5m, 2h, 1d"),
        OptionSpec("after", value: "ID", help: "run only after this job completed (edit: replaces its dependencies)", repeatable: true),
        OptionSpec("cwd", value: "DIR", help: "working directory (default: the current one)"),
        OptionSpec("label", short: "l", value: "TEXT", help: "a tag shown in listings; 'list --label TEXT' finds the jobs that have it"),
        OptionSpec("queue", short: "q", value: "NAME", help: "the named queue it joins (default: default); see 'queuectl queue list'"),
        OptionSpec("slots", value: "N", help: "how much of its queue's parallel limit it takes while it runs, 1-\(QueueSettings.maxSlots) (default 1)"),
    ]

    static let enqueue = CommandSpec(
        "enqueue", summary: "add jobs to the queue",
        arguments: [ArgumentSpec("JOB", help: "a job: JSON if it starts with { or [ (e.g. '{\"id\":\"job1\",\"command\":\"sleep 2\"}'), otherwise the shell command itself, as with --command. The job-field options below (--id to --label) also apply to JSON input (here or --file): they replace a single job's keys, and are defaults under a batch's own keys", optional: true)],
        options: [
            OptionSpec("file", short: "f", value: "PATH", help: "read jobs from a file (- = stdin): an object, an array or JSON Lines"),
            OptionSpec("command", short: "c", value: "CMD", help: "the shell command to run"),
            OptionSpec("id", value: "ID", help: "job id (default: generated)"),
        ] + jobFields + [json],
        examples: [
            "queuectl enqueue '{\"id\":\"job1\",\"command\":\"sleep 2\"}'",
            "queuectl enqueue 'echo hi'                      # a command, not JSON",
            "queuectl enqueue --file jobs.jsonl --max-retries 0   # a default for every job without its own",
            "queuectl enqueue --id backup --max-retries 5 -- tar czf /tmp/home.tgz \"$HOME\"",
            "queuectl enqueue --delay 10m --command 'echo later'",
        ],
        takesRest: true)

    static let list = CommandSpec(
        "list", summary: "list jobs",
        options: [
            OptionSpec("state", short: "s", value: "STATE", help: "only jobs in this state (\(JobState.names))"),
            OptionSpec("limit", short: "n", value: "N", help: "at most N jobs (the most recent N)"),
            OptionSpec("label", short: "l", value: "TEXT", help: "only jobs with this label"),
            OptionSpec("queue", short: "q", value: "NAME", help: "only jobs of this queue"),
            json,
        ],
        examples: ["queuectl list --state pending", "queuectl list --json --limit 10", "queuectl list --label nightly"])

    static let show = CommandSpec(
        "show", summary: "show one job in full, with its attempt history",
        arguments: [ArgumentSpec("ID", help: "the job's id")],
        options: [json],
        examples: ["queuectl show job1"])

    static let status = CommandSpec(
        "status", summary: "count jobs in every state, and the live workers",
        options: [json],
        examples: ["queuectl status", "queuectl status --json"])

    static let config = CommandSpec(
        "config", summary: "show or change configuration (alone: config show)",
        subcommands: [
            CommandSpec("show", summary: "every key with its value and range", options: [json]),
            CommandSpec("list", summary: "the same as show", options: [json]),
            CommandSpec("get", summary: "print one key's value (no key: every key, as show)", arguments: [ArgumentSpec("KEY", help: "a key such as max_retries (or max-retries)", optional: true)], options: [json]),
            CommandSpec("set", summary: "set a key", arguments: [ArgumentSpec("KEY", help: "the key"), ArgumentSpec("VALUE", help: "its new value, in the key's range (see 'queuectl config show')")],
                        examples: ["queuectl config set max-retries 5", "queuectl config set backoff_max 10m"]),
            CommandSpec("unset", summary: "reset a key to its default", arguments: [ArgumentSpec("KEY", help: "the key")]),
        ],
        defaultSubcommand: "show")

    static let initHome = CommandSpec(
        "init", summary: "create the home (the queue's directory) if it does not exist, and print its path",
        examples: ["queuectl init", "queuectl --home /srv/queue init"])

    static let dlq = CommandSpec(
        "dlq", summary: "the dead letter queue: jobs out of retries",
        subcommands: [
            CommandSpec("list", summary: "list dead jobs", options: [json]),
            CommandSpec("retry", summary: "put dead jobs back to pending with fresh attempts",
                        arguments: [ArgumentSpec("ID", help: "dead job ids", optional: true, variadic: true)],
                        options: [OptionSpec("all", help: "retry every dead job")],
                        examples: ["queuectl dlq retry job1", "queuectl dlq retry --all"]),
        ])

    static let edit = CommandSpec(
        "edit", summary: "change a waiting job (pending, or failed awaiting its retry), validated as enqueue",
        arguments: [ArgumentSpec("ID", help: "the job's id")],
        options: [OptionSpec("command", short: "c", value: "CMD", help: "the shell command to run")] + jobFields + [
            OptionSpec("editor", help: "open $VISUAL/$EDITOR on the job's fields as JSON and apply them when saved"), json,
        ],
        examples: ["queuectl edit job1 --command 'make -j8 test'", "queuectl edit job1 --priority 10 --label urgent",
                   "queuectl edit job1 --editor     # every field at once, as JSON"])

    static let restart = CommandSpec(
        "restart", summary: "run finished jobs (completed, dead, cancelled) again, their history kept",
        arguments: [ArgumentSpec("ID", help: "finished job ids", optional: true, variadic: true)],
        options: [
            OptionSpec("failed", help: "restart every dead job"),
            OptionSpec("queue", short: "q", value: "NAME", help: "with --failed: only the dead jobs of this queue"),
            OptionSpec("as-new", help: "enqueue a copy under a new id instead, leaving the original as it is"),
        ],
        examples: ["queuectl restart job1", "queuectl restart --failed", "queuectl restart --queue gpu --failed", "queuectl restart job1 --as-new"])

    static let queue = CommandSpec(
        "queue", summary: "named queues: their parallel limits, pauses and jobs (alone: queue list)",
        subcommands: [
            CommandSpec("list", summary: "each queue's state, running slots of its limit, and jobs per state", options: [json],
                        examples: ["queuectl queue list"]),
            CommandSpec("set", summary: "set a queue's parallel limit, at once on every host",
                        arguments: [ArgumentSpec("NAME", help: "the queue (it need not have jobs yet)")],
                        options: [OptionSpec("parallel", short: "p", value: "N", help: "slots of its jobs running at once, on every host together (0 = no limit beyond the workers)")],
                        examples: ["queuectl queue set gpu --parallel 1", "queuectl queue set default --parallel 0"]),
        ],
        defaultSubcommand: "list")

    static let pause = CommandSpec(
        "pause", summary: "stop new claims of a queue or of jobs; with --jobs, stop the running ones too (SIGSTOP) until resumed",
        arguments: [ArgumentSpec("ID", help: "job ids: not claimed until resumed (a running one goes on unless --jobs)", optional: true, variadic: true)],
        options: [
            OptionSpec("queue", short: "q", value: "NAME", help: "pause this queue instead: no new job of it starts"),
            OptionSpec("jobs", help: "stop the running jobs too (SIGSTOP; their timeouts do not count the time stopped)"),
        ],
        examples: ["queuectl pause --queue default", "queuectl pause --queue gpu --jobs", "queuectl pause job1 job2", "queuectl pause --jobs job3"])

    static let resume = CommandSpec(
        "resume", summary: "undo pause: claims go on, stopped jobs continue (SIGCONT)",
        arguments: [ArgumentSpec("ID", help: "job ids", optional: true, variadic: true)],
        options: [OptionSpec("queue", short: "q", value: "NAME", help: "resume this queue")],
        examples: ["queuectl resume --queue gpu", "queuectl resume job1"])

    static let move = CommandSpec(
        "move", summary: "reorder a waiting job within its queue (priority still comes first)",
        arguments: [ArgumentSpec("ID", help: "the job to move")],
        options: [
            OptionSpec("first", help: "ahead of every other job of its priority"),
            OptionSpec("before", value: "OTHER", help: "just ahead of job OTHER (same queue, priority not higher than this job's)"),
        ],
        examples: ["queuectl move job7 --first", "queuectl move job7 --before job3"])

    static let worker = CommandSpec(
        "worker", summary: "start, stop and inspect the worker processes",
        subcommands: [
            CommandSpec("start", summary: "start a supervisor that forks N workers (foreground; Ctrl+C stops gracefully)",
                        options: [
                            OptionSpec("count", short: "c", value: "N", help: "number of workers, 1-1024 (default 1)"),
                            OptionSpec("detach", short: "d", help: "run in the background; return once the workers are up"),
                            OptionSpec("drain", help: "exit once no job is pending, running or awaiting a retry: 0 if every job the workers ran completed, else 1"),
                            OptionSpec("drain-wait", value: "DURATION", help: "with --drain, also wait for delayed jobs due within this long (default 0: leave them)"),
                            OptionSpec("queues", short: "q", value: "A,B", help: "take jobs only from these queues (default: every queue), e.g. a host with a GPU serves gpu"),
                        ],
                        examples: ["queuectl worker start --count 4", "queuectl worker start -c 2 --detach", "queuectl worker start --queues gpu -c 1 --detach", "queuectl worker start --drain -c 2   # in CI: run what is queued, then exit"]),
            CommandSpec("stop", summary: "stop this host's workers (or another's, or all): running jobs finish first; returns when they are gone",
                        options: [
                            OptionSpec("timeout", value: "DURATION", help: "wait this long for running jobs, then interrupt them (default 60s)"),
                            OptionSpec("force", help: "interrupt running jobs now; they go back to pending"),
                            OptionSpec("host", value: "NAME", help: "stop the workers of that machine (a request it acts on within a second)"),
                            OptionSpec("all-hosts", help: "stop the workers of every machine that serves this home"),
                        ],
                        examples: ["queuectl worker stop", "queuectl worker stop --force", "queuectl worker stop --host gpu1", "queuectl worker stop --all-hosts"]),
            CommandSpec("status", summary: "each host's supervisor, its workers, and the job each runs", options: [json]),
        ])

    static let logs = CommandSpec(
        "logs", summary: "print the captured output of a job",
        arguments: [ArgumentSpec("ID", help: "the job's id")],
        options: [
            OptionSpec("attempt", short: "a", value: "N", help: "which attempt (default: the latest)"),
            OptionSpec("follow", short: "f", help: "keep printing while the attempt runs"),
        ],
        examples: ["queuectl logs job1", "queuectl logs job1 --attempt 2", "queuectl logs job1 --follow"])

    static let cancel = CommandSpec(
        "cancel", summary: "cancel jobs: waiting ones never run, running ones are stopped",
        arguments: [ArgumentSpec("ID", help: "job ids", variadic: true)],
        examples: ["queuectl cancel job1 job2"])

    static let wait = CommandSpec(
        "wait", summary: "wait until jobs finish (exit 0 if all completed, 1 otherwise)",
        arguments: [ArgumentSpec("ID", help: "job ids (default: every job not finished yet)", optional: true, variadic: true)],
        options: [OptionSpec("timeout", value: "DURATION", help: "give up after this long (exit 1)")],
        examples: ["queuectl wait", "queuectl wait build test --timeout 10m"])

    static let purge = CommandSpec(
        "purge", summary: "delete finished jobs (completed, dead, cancelled) and their logs",
        options: [
            OptionSpec("state", short: "s", value: "STATE", help: "only this finished state"),
            OptionSpec("older-than", value: "DURATION", help: "only jobs finished at least this long ago: 7d, 12h"),
        ],
        examples: ["queuectl purge --older-than 7d", "queuectl purge --state completed"])

    static let compact = CommandSpec(
        "compact", summary: "fold the journal into jobs.json now (the queue does it by itself as the journal grows)",
        examples: ["queuectl compact"])

    static let metrics = CommandSpec(
        "metrics", summary: "execution statistics: throughput, success rate, run and wait times",
        options: [json],
        examples: ["queuectl metrics", "queuectl metrics --json"])

    static let dashboard = CommandSpec(
        "dashboard", summary: "serve a live web dashboard and JSON API (Ctrl+C stops it)",
        options: [
            OptionSpec("host", value: "ADDR", help: "address to bind (default 127.0.0.1; anything else is reachable from the network)"),
            OptionSpec("port", short: "p", value: "PORT", help: "port (default 8000; 0 = any free port)"),
        ],
        examples: ["queuectl dashboard", "queuectl dashboard --port 9000"])

    static let completion = CommandSpec(
        "completion", summary: "print a shell completion script",
        arguments: [ArgumentSpec("SHELL", help: "bash, zsh or fish")],
        examples: ["source <(queuectl completion bash)", "queuectl completion fish > ~/.config/fish/completions/queuectl.fish"])

    /// Every command by name, in the order --help lists them. Each table is a lazily built
    /// global, built only when its command is asked for.
    static let commands: [(name: String, spec: () -> CommandSpec)] = [
        ("enqueue", { enqueue }), ("worker", { worker }), ("status", { status }), ("list", { list }),
        ("show", { show }), ("logs", { logs }), ("wait", { wait }), ("cancel", { cancel }),
        ("restart", { restart }), ("edit", { edit }), ("queue", { queue }), ("pause", { pause }),
        ("resume", { resume }), ("move", { move }), ("dlq", { dlq }), ("purge", { purge }),
        ("compact", { compact }), ("metrics", { metrics }), ("dashboard", { dashboard }),
        ("config", { config }), ("init", { initHome }), ("completion", { completion }),
    ]

    static func command(named name: String) -> CommandSpec? {
        commands.first { $0.name == name }?.spec()
    }

    /// The whole table: help, completions, and every line the narrow table did not parse.
    static var root: CommandSpec { root(commands.map { $0.spec() }) }

    /// A table holding only the first command the line names, if it names one. Building every
    /// command's table was most of a short command's own start-up work. A line this table parses
    /// into a command parses identically with the whole one (commands match by exact name, and
    /// global options do not depend on the commands), so main uses it only for that outcome.
    static func narrowRoot(for args: [String]) -> CommandSpec? {
        for a in args {
            if a == "--" { return nil }
            if let c = command(named: a) { return root([c]) }
        }
        return nil
    }

    private static func root(_ commands: [CommandSpec]) -> CommandSpec {
        CommandSpec(
            "queuectl", summary: "a background job queue for shell commands",
            subcommands: commands,
            examples: [
                "queuectl enqueue '{\"id\":\"job1\",\"command\":\"sleep 2\"}'",
                "queuectl status",
                "queuectl list --state dead",
            ])
    }
}
