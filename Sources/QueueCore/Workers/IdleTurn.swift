import Glibc

/// Which idle worker of this machine watches the home (ARCHITECTURE.md, "Waiting for work").
///
/// Every write to the home wakes every idle worker, and each one woken looked at the journal or
/// took the lock, although only one of them can take the new job. So the idle workers of a
/// machine take turns: the one holding `hosts/<host>.idle` (flock, exclusive) watches; the others
/// let the wake-ups pass without looking. The watcher keeps the turn until it claims a job, and
/// gives it up inside that claim's transaction, under the queue's lock, before the claim is
/// written: every change made before was seen by that transaction, and every change after it
/// (the claim's own write first) wakes a worker that can take the turn. A worker that dies gives
/// up its turn with its descriptor. Every idle worker still claims on its own at
/// `poll_interval` and at due times, as before.
///
/// Used only where inotify wakes the workers (a local file system).
final class IdleTurn {
    private let fd: FileDescriptor
    private(set) var held = false

    init?(home: Home) {
        guard let fd = Posix.openQuietly(home.hostFile(Host.current.name, ".idle"), O_RDWR | O_CREAT) else { return nil }
        self.fd = fd
    }

    deinit { fd.close() }

    /// Takes the turn if no other worker holds it; true if this worker holds it now.
    func take() -> Bool {
        if !held { held = fd.tryLock(LOCK_EX) }
        return held
    }

    func giveUp() {
        guard held else { return }
        _ = systemFlockRaw(fd.rawValue, LOCK_UN)
        held = false
    }
}
