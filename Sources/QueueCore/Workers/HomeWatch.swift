import Glibc

/// Wakes idle workers when the queue changes: inotify on the home directory reports every
/// append to the journal and every new snapshot, so a new job is seen within milliseconds.
/// It wakes on the close of a file opened for writing, not on each write: a writer closes the
/// journal just before it unlocks, so the woken worker rarely finds the lock still held (with
/// IN_MODIFY it woke at the write and then slept again on the lock through the writer's fsync).
/// Only transactions that write open the journal for writing (JSONStore.openJournal).
/// The same kind of watch on one file wakes the workers waiting for the turn (IdleTurn.swift).
final class HomeWatch {
    let fd: FileDescriptor

    convenience init?(home: Home) {
        self.init(path: home.path, mask: UInt32(IN_CLOSE_WRITE | IN_MOVED_TO))
    }

    init?(path: String, mask: UInt32) {
        guard let fd = FileDescriptor(returned: inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))) else { return nil }
        self.fd = fd
        guard inotify_add_watch(fd.rawValue, path, mask) >= 0 else {
            fd.close()
            return nil
        }
    }

    deinit { fd.close() }

    /// Forgets the events so far; the caller then looks at the files, and any later change wakes it again.
    func drain() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while buf.withUnsafeMutableBytes({ read(fd.rawValue, $0.baseAddress!, $0.count) }) > 0 {}
    }
}
