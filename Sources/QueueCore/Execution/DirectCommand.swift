import Glibc

/// A command that is nothing but words naming a program (`make -j4 all`, `python3 job.py`) is
/// started directly, without `/bin/sh -c` (what GNU make does for simple recipe lines): one exec
/// less per attempt, with the same observable behaviour — the same PATH search (the job's own
/// PATH; relative entries from the job's directory), the same arguments, the same environment
/// (dash sets `PWD` to the job's directory, so this does too). Anything the shell would treat
/// differently goes to the shell: any character that is special to it, an assignment or a
/// builtin or keyword as the first word, a program that is not found or cannot be run (the
/// shell then says so and exits 127 or 126, exactly as before), or a file the kernel cannot
/// execute itself (a script without `#!`, which the shell runs).
public enum DirectCommand {
    public struct Plan: Equatable {
        public var path: String       // what to exec
        public var argv: [String]     // argv[0] is the word as typed
    }

    /// The direct form of `command`, or nil when it must go through the shell.
    public static func plan(_ command: String, environment: [String], cwd: String) -> Plan? {
        var plain = true
        for b in command.utf8 where !isPlain(b) { plain = false; break }
        guard plain else { return nil }
        let words = command.split(separator: " ").map(String.init)
        guard let first = words.first, !first.contains("="), !shellWords.contains(first) else { return nil }
        // The path is exec'd as the shell would spell it (a relative one from the job's
        // directory, where the child is by then), so a script sees the same $0.
        func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : (cwd == "/" ? "" : cwd) + "/" + p }
        if first.contains("/") { return isRunnable(absolute(first)) ? Plan(path: first, argv: words) : nil }
        let pathVar = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) } ?? defaultPath
        for dir in pathVar.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = dir.isEmpty ? first : dir + "/" + first
            if isRunnable(absolute(candidate)) { return Plan(path: candidate, argv: words) }
        }
        return nil
    }

    /// `environment` with `PWD` as dash leaves it: kept when it names the job's directory, else
    /// the directory's physical path.
    public static func environment(_ env: [String], cwd: String) -> [String] {
        var out = env
        if let pwd = env.last(where: { $0.hasPrefix("PWD=") }).map({ String($0.dropFirst(4)) }), sameFile(pwd, cwd) { return out }
        guard let real = realpath(cwd, nil) else { return out }
        defer { free(real) }
        out.removeAll { $0.hasPrefix("PWD=") }
        out.append("PWD=" + String(cString: real))
        return out
    }

    /// Letters, digits, space and `-_./:,+@%=`: nothing that quotes, expands, globs, redirects,
    /// separates or comments in sh.
    static func isPlain(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x20: true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "/"), UInt8(ascii: ":"),
             UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: "@"), UInt8(ascii: "%"), UInt8(ascii: "="): true
        default: false
        }
    }

    /// dash's builtins and reserved words: these mean something else (or behave differently,
    /// like `echo`) when run as a program.
    static let shellWords: Set<String> = [
        ".", ":", "[", "alias", "bg", "break", "cd", "chdir", "command", "continue", "echo", "eval", "exec",
        "exit", "export", "false", "fc", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd",
        "read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type", "ulimit",
        "umask", "unalias", "unset", "wait",
        "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done", "in", "function",
    ]

    /// dash's search path when the environment has no PATH.
    static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// A regular file this process may execute (the job runs as the same user).
    static func isRunnable(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
