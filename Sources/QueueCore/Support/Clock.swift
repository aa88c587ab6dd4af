import Glibc

/// Wall-clock times are milliseconds since the Unix epoch (UTC) everywhere in the queue.
public typealias Millis = Int64

public enum Clock {
    /// The latest time queuectl accepts, stores or shows (9999-12-31T23:59:59.999Z): dates are
    /// written with four-digit years, and anything later is refused where it enters.
    public static let latestMillis: Millis = 253_402_300_799_999

    /// The longest duration accepted anywhere (100 years): beyond any real use, far from overflow.
    public static let maxDurationSeconds: Double = 3_155_760_000
    public static let maxDurationText = "3155760000 seconds (100 years)"
    public static let maxDurationMillis: Millis = 3_155_760_000_000

    /// Seconds as milliseconds; nil unless a finite value in 0…maxDurationSeconds.
    public static func millis(seconds: Double) -> Millis? {
        guard seconds.isFinite, seconds >= 0, seconds <= maxDurationSeconds else { return nil }
        return Millis((seconds * 1000).rounded())  // checked: finite, 0…100 years above
    }

    public static func nowMillis() -> Millis {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Millis(ts.tv_sec) * 1000 + Millis(ts.tv_nsec / 1_000_000)
    }

    /// Monotonic seconds, for measuring durations and timeouts (immune to clock changes).
    public static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// `2026-11-22T10:30:00.123Z`. Hand-rolled (civil-from-days): it runs for every timestamp of
    /// every job when a snapshot is written.
    public static func iso(_ ms: Millis) -> String {
        // Refused at every input; clamped here so no stored value can print as another date.
        let ms = min(max(ms, 0), latestMillis)
        var days = ms >= 0 ? ms / 86_400_000 : (ms - 86_399_999) / 86_400_000
        var rem = ms - days * 86_400_000
        let hour = rem / 3_600_000; rem %= 3_600_000
        let minute = rem / 60_000; rem %= 60_000
        let second = rem / 1000
        let milli = rem % 1000
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        guard (0...9999).contains(year) else { return "0000-01-01T00:00:00.000Z" }
        return String(unsafeUninitializedCapacity: 24) { buf in
            func put(_ v: Int64, _ at: Int, _ width: Int) {
                var v = v
                for k in stride(from: at + width - 1, through: at, by: -1) {
                    buf[k] = UInt8(48 + v % 10)
                    v /= 10
                }
            }
            put(year, 0, 4); buf[4] = 45
            put(month, 5, 2); buf[7] = 45
            put(day, 8, 2); buf[10] = 84
            put(hour, 11, 2); buf[13] = 58
            put(minute, 14, 2); buf[16] = 58
            put(second, 17, 2); buf[19] = 46
            put(milli, 20, 3); buf[23] = 90
            return 24
        }
    }

    /// Days since 1970-01-01 of a civil date (inverse of the above).
    static func daysFromCivil(_ y: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y - 1 : y
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Fast path for the exact form `iso` writes; nil if the text is not in that form.
    static func parseCanonical(_ text: String) -> Millis? {
        var t = text
        return t.withUTF8 { b -> Millis? in
            guard b.count == 24, b[4] == 45, b[7] == 45, b[10] == 84, b[13] == 58, b[16] == 58, b[19] == 46, b[23] == 90 else { return nil }
            func num(_ at: Int, _ width: Int) -> Int64? {
                var v: Int64 = 0
                for k in at..<(at + width) {
                    let c = b[k]
                    guard c >= 48 && c <= 57 else { return nil }
                    v = v * 10 + Int64(c - 48)
                }
                return v
            }
            guard let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2), let mi = num(14, 2),
                  let s = num(17, 2), let ms = num(20, 3), (1...12).contains(mo), d >= 1, d <= Int64(daysIn(month: Int(mo), year: Int(y))),
                  h < 24, mi < 60, s < 61, y >= 1970 else { return nil }
            return (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000 + ms
        }
    }

    /// Local time `2026-11-22 11:30:00`, for human tables.
    public static func local(_ ms: Millis) -> String {
        var secs = time_t(ms / 1000)
        var t = tm()
        localtime_r(&secs, &t)
        return pad(Int(t.tm_year) + 1900, 4) + "-" + pad(Int(t.tm_mon) + 1, 2) + "-" + pad(Int(t.tm_mday), 2)
            + " " + pad(Int(t.tm_hour), 2) + ":" + pad(Int(t.tm_min), 2) + ":" + pad(Int(t.tm_sec), 2)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Parses ISO-8601: `YYYY-MM-DD[T| ]HH:MM[:SS[.fff…]][Z|±HH[:MM]]` or a bare `YYYY-MM-DD`.
    /// Without an offset the time is local, as a person typing it means. Only 1970 to 9999.
    public static func parseISO(_ text: String) -> Millis? {
        guard let t = parseAnyISO(text), (0...latestMillis).contains(t) else { return nil }
        return t
    }

    private static func parseAnyISO(_ text: String) -> Millis? {
        if let fast = parseCanonical(text) { return fast }
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 0x30 && c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += n
            return v
        }
        func eat(_ c: Character) -> Bool {
            if i < b.count && b[i] == c.asciiValue! { i += 1; return true }
            return false
        }
        guard let year = digits(4), eat("-"), let month = digits(2), eat("-"), let day = digits(2) else { return nil }
        var hour = 0, minute = 0, second = 0, millis = 0
        var offsetSeconds: Int? = nil
        if i < b.count {
            guard eat("T") || eat("t") || eat(" ") else { return nil }
            guard let h = digits(2), eat(":"), let m = digits(2) else { return nil }
            hour = h; minute = m
            if eat(":") {
                guard let s = digits(2) else { return nil }
                second = s
                if eat(".") || eat(",") {
                    var scale = 100, got = 0
                    while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                        millis += Int(b[i] - 0x30) * scale
                        scale /= 10
                        i += 1
                        got += 1
                    }
                    guard got > 0 else { return nil }
                }
            }
            if eat("Z") || eat("z") {
                offsetSeconds = 0
            } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = digits(2) else { return nil }
                var om = 0
                if eat(":") { guard let m = digits(2) else { return nil }; om = m }
                else if i < b.count { guard let m = digits(2) else { return nil }; om = m }
                guard oh <= 23, om <= 59 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            }
        }
        guard i == b.count else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        var t = tm()
        t.tm_year = Int32(year - 1900)
        t.tm_mon = Int32(month - 1)
        t.tm_mday = Int32(day)
        t.tm_hour = Int32(hour)
        t.tm_min = Int32(minute)
        t.tm_sec = Int32(second)
        let secs: time_t
        if let off = offsetSeconds {
            secs = timegm(&t) - time_t(off)
        } else {
            t.tm_isdst = -1
            secs = mktime(&t)
        }
        return Millis(secs) * 1000 + Millis(millis)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses a duration such as `30`, `30s`, `1.5s`, `500ms`, `5m`, `2h`, `1d`, `1h30m` into seconds.
    public static func parseDuration(_ text: String) -> Double? {
        let s = text.trimmingSpaces()
        guard !s.isEmpty else { return nil }
        if let plain = Double(s), plain.isFinite, plain >= 0 { return plain }
        var total = 0.0
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let v = Double(number), v >= 0 else { return false }
            let mult: Double
            switch unit {
            case "ms": mult = 0.001
            case "s", "sec", "secs": mult = 1
            case "m", "min", "mins": mult = 60
            case "h", "hr", "hrs": mult = 3600
            case "d", "day", "days": mult = 86400
            case "w": mult = 604800
            default: return false
            }
            total += v * mult
            number = ""; unit = ""
            sawAny = true
            return true
        }
        for ch in s {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else if ch.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            } else {
                return nil
            }
        }
        if !number.isEmpty || !unit.isEmpty { guard flush() else { return nil } }
        return sawAny && total.isFinite ? total : nil
    }

    /// `1.2s`, `3m05s`, `2h10m`, for humans.
    public static func humanDuration(_ seconds: Double) -> String {
        let seconds = seconds.isFinite ? min(max(seconds, 0), 1e12) : 0  // never a trapping conversion
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }  // checked: clamped above
        if seconds < 60 {
            let tenths = (seconds * 10).rounded() / 10
            return tenths == tenths.rounded() ? "\(Int(tenths))s" : "\(tenths)s"  // checked: < 60
        }
        let s = Int(seconds.rounded())  // checked: clamped above
        if s < 3600 { return "\(s / 60)m" + pad(s % 60, 2) + "s" }
        if s < 86400 { return "\(s / 3600)h" + pad((s % 3600) / 60, 2) + "m" }
        return "\(s / 86400)d" + pad((s % 86400) / 3600, 2) + "h"
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
