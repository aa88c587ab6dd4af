import Glibc

/// `edit ID --editor`: the job's input form (`Edit.inputForm`, the one list of editable fields,
/// without the id) in a temporary JSON file, `$VISUAL`, else `$EDITOR`, else `vi` on it, and the
/// saved object applied by `Edit.run(replacingWith:)` only if the job did not change meanwhile.
public enum EditInEditor {
    /// The edited job, or nil when the file was saved unchanged.
    public static func run(store: JSONStore, id: String) throws -> Job? {
        guard let job = try store.job(id) else { throw QueueError.notFound("no job with id \"\(id)\"; see 'queuectl list'") }
        try Edit.checkEditable(job)  // refused before anyone types into an editor
        var form = Edit.inputForm(of: job)
        if case .object(let pairs) = form { form = .object(pairs.filter { $0.0 != "id" }) }
        let original = Array((form.pretty() + "\n").utf8)

        let path = try writeTemporaryFile(original, name: "queuectl-edit-\(id)")
        defer { unlink(path) }
        try runEditor(on: path)
        guard let saved = try Posix.readFile(path) else {
            throw QueueError.failed("the edited file \(path) is gone; nothing changed")
        }
        if saved == original { return nil }
        let values = try JobInput.parseDocuments(saved, source: "the edited JSON")
        guard values.count == 1 else {
            throw QueueError.invalidJob("the edited JSON: expected one job object, got \(values.count)")
        }
        return try Edit.run(store: store, id: id, replacingWith: values[0], expectedUpdatedAt: job.updatedAt)
    }

    /// `$VISUAL`, else `$EDITOR`, else `vi`: the order git and crontab use.
    static var editor: String { Posix.env("VISUAL") ?? Posix.env("EDITOR") ?? "vi" }

    /// A new file of mode 0600 in `$TMPDIR` (else /tmp), under a name no one else can have
    /// chosen (mkstemps), ending `.json` so editors highlight it. Returns its path.
    static func writeTemporaryFile(_ bytes: [UInt8], name: String) throws -> String {
        var dir = Posix.env("TMPDIR") ?? "/tmp"
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        var template = Array((dir + "/" + name + "-XXXXXX.json").utf8CString)
        let raw = template.withUnsafeMutableBufferPointer { buf -> Int32 in
            guard let base = buf.baseAddress else { return -1 }
            return Posix.retryingEINTR { mkstemps(base, 5) }  // 5: ".json"
        }
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let fd = FileDescriptor(returned: raw) else { throw SystemError(operation: "create a temporary file in", path: dir, code: errno) }
        try Posix.fillNewFile(fd, path: path) { try Posix.writeAll(fd: fd, bytes, path: path) }
        return path
    }

    /// Runs the editor on `path` through `/bin/sh -c '$EDITOR "$1"'`, so an editor given with
    /// arguments (`code --wait`) works, on this terminal, and waits for it. Like system(3), this
    /// process ignores SIGINT and SIGQUIT meanwhile: a Ctrl+C typed in the editor is the editor's.
    static func runEditor(on path: String) throws {
        let words = ["/bin/sh", "-c", editor + " \"$1\"", "sh", path]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        guard argv.dropLast().allSatisfy({ $0 != nil }) else { throw QueueError.system("cannot start the editor: out of memory") }

        var ignore = sigaction()
        ignore.__sigaction_handler.sa_handler = SIG_IGN
        sigemptyset(&ignore.sa_mask)
        var oldInt = sigaction(), oldQuit = sigaction()
        sigaction(SIGINT, &ignore, &oldInt)
        sigaction(SIGQUIT, &ignore, &oldQuit)
        defer {
            sigaction(SIGINT, &oldInt, nil)
            sigaction(SIGQUIT, &oldQuit, nil)
        }
        // The editor gets default handling of what this process ignores or catches.
        var attr = SignalPipe.spawnAttributes(newProcessGroup: false)
        defer { posix_spawnattr_destroy(&attr) }
        var defaults = sigset_t()
        posix_spawnattr_getsigdefault(&attr, &defaults)
        sigaddset(&defaults, SIGQUIT)
        posix_spawnattr_setsigdefault(&attr, &defaults)

        fflush(stdout)  // anything buffered comes before the editor's screen, not after
        fflush(stderr)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/sh", nil, &attr, argv, environ)
        guard rc == 0 else { throw QueueError.system("cannot start the editor (/bin/sh): \(Posix.describe(rc))") }
        var status: Int32 = 0
        guard Posix.retryingEINTR({ waitpid(pid, &status, 0) }) == pid else {
            throw QueueError.system("cannot wait for the editor: \(Posix.describe(errno))")
        }
        let sig = status & 0x7f
        if sig != 0 {
            throw QueueError.failed("editor was killed by signal \(sig) (\(Lifecycle.signalName(Int(sig)))); nothing changed")
        }
        let code = (status >> 8) & 0xff
        if code != 0 { throw QueueError.failed("editor exited with \(code); nothing changed") }
    }
}
