import Glibc

/// Wakes idle workers when the queue changes: inotify on the home directory reports every
/// append to the journal and every new snapshot, so a new job is seen within milliseconds.
final class HomeWatch {
    let fd: Int32

    init?(home: Home) {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { return nil }
        let mask = UInt32(IN_MODIFY | IN_MOVED_TO | IN_CLOSE_WRITE)
        guard inotify_add_watch(fd, home.path, mask) >= 0 else {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    func drain() {
        var buf = [UInt8](repeating: 0, count: 4096)
        while buf.withUnsafeMutableBytes({ read(fd, $0.baseAddress!, $0.count) }) > 0 {}
    }
}
