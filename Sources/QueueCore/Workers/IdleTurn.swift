import Glibc

/// Which worker of this machine watches the home (ARCHITECTURE.md, "Waiting for work").
///
/// Every write to the home would wake every idle worker, although only one of them can take the
/// new job. So the workers of a machine take turns: the one holding `hosts/<host>.idle` (flock,
/// exclusive) watches the home; the others sleep until the turn is given up. Giving it up touches
/// that file (its times), and the waiting workers watch the file (inotify) and try to take the
/// turn; the one that gets it looks at the home at once, against what it saw last.
///
/// The watcher keeps the turn while it runs a job it claimed when that claim left nothing else
/// pending or awaiting a retry (jobs arriving one by one then run on one worker, which reads no
/// other worker's lines). It gives the turn up inside a claim's transaction that leaves work
/// behind, and while it runs a job at the first change in the home that it did not make itself
/// (Worker.swift). A worker that dies gives up its turn with its descriptor, without waking
/// anyone: the others then claim at `poll_interval`, as every idle worker does anyway.
///
/// Used only where inotify wakes the workers (a local file system).
final class IdleTurn {
    private let fd: FileDescriptor
    /// Readable once some worker gave the turn up since the last `take`.
    private let handedOver: HomeWatch
    private(set) var held = false

    init?(home: Home) {
        let path = home.hostFile(Host.current.name, ".idle")
        guard let fd = Posix.openQuietly(path, O_RDWR | O_CREAT) else { return nil }
        guard let watch = HomeWatch(path: path, mask: UInt32(IN_ATTRIB)) else {
            fd.close()
            return nil
        }
        self.fd = fd
        self.handedOver = watch
    }

    deinit { fd.close() }

    /// What a worker without the turn waits on.
    var wakeFd: FileDescriptor { handedOver.fd }

    /// Takes the turn if no other worker holds it; true if this worker holds it now. Hand-overs
    /// before the attempt are forgotten: one after it wakes `wakeFd` again.
    func take() -> Bool {
        if !held {
            handedOver.drain()
            held = fd.tryLock(LOCK_EX)
        }
        return held
    }

    /// Gives the turn up and wakes the workers waiting for it.
    func giveUp() {
        guard held else { return }
        _ = systemFlockRaw(fd.rawValue, LOCK_UN)
        held = false
        // A new modification time, not a write: it needs no free block on a full disk.
        _ = futimens(fd.rawValue, nil)
    }
}
