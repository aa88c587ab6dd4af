import Glibc

/// Self-fencing (ARCHITECTURE.md, "Several machines, one home"). A worker that has not renewed
/// its host's lease for `lease_timeout` — its file-system calls hang in a partition, or fail —
/// may have lost its job to another host. This watchdog, a thread of its own that touches no
/// file, then kills the running attempt's process group, so that the attempt does not go on
/// beside the other host's while the worker's own thread is stuck in the file system. The
/// group is killed only while the worker has not reaped its leader (`finished` is called
/// before the reap), so the group id is still the attempt's.
final class LeaseWatchdog {
    private var mutex = pthread_mutex_t()
    private var renewedAt = Clock.monotonic()
    private var timeout: Double
    private var group: pid_t = 0      // the running attempt's process group; 0 = none
    private var fired = false

    init(timeout: Double) {
        self.timeout = timeout
        pthread_mutex_init(&mutex, nil)
        var thread = pthread_t()
        let me = Unmanaged.passRetained(self).toOpaque()  // the thread lives as long as the worker
        if pthread_create(&thread, nil, { ctx in
            guard let ctx else { return nil }
            Unmanaged<LeaseWatchdog>.fromOpaque(ctx).takeUnretainedValue().watch()
            return nil
        }, me) == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<LeaseWatchdog>.fromOpaque(me).release()  // no watchdog: the worker runs as before
        }
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }

    /// The worker renewed the lease just now.
    func renewed(timeout: Double) { locked { renewedAt = Clock.monotonic(); self.timeout = timeout } }

    /// An attempt runs in process group `pgid` (its unreaped leader's pid).
    func running(_ pgid: pid_t) { locked { group = pgid; fired = false } }

    /// The attempt is over (called before its leader is reaped). Whether the watchdog killed it.
    @discardableResult
    func finished() -> Bool { locked { group = 0; return fired } }

    private func watch() {
        var pause = 0.1
        while true {
            Posix.sleep(seconds: pause)
            pause = locked {
                // A little before the lease can expire by the server's clock, as this host sees it.
                let left = renewedAt + timeout * 0.9 - Clock.monotonic()
                if left > 0 {
                    // Nothing can be due before then: a renewal only moves the moment later.
                    // (At most a second, in case a new configuration shortened the timeout.)
                    return min(1, max(0.1, left))
                }
                if group > 0 && !fired {
                    kill(-group, SIGKILL)
                    fired = true
                }
                return 0.1
            }
        }
    }
}
