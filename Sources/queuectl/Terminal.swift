import Glibc
import QueueCore

/// Output helpers: colour only on a TTY and never with NO_COLOR; tables that fit the terminal.
enum Terminal {
    static let stdoutIsTTY = isatty(1) == 1
    static let stderrIsTTY = isatty(2) == 1
    static let color = stdoutIsTTY && Posix.env("NO_COLOR") == nil && Posix.env("TERM") != "dumb"

    /// Columns of the terminal, or nil when stdout is not one (then nothing is cut).
    static var width: Int? {
        guard stdoutIsTTY else { return nil }
        var ws = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 { return Int(ws.ws_col) }
        if let c = Posix.env("COLUMNS").flatMap(Int.init) { return c }
        return 80
    }

    static func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    static func bold(_ s: String) -> String { paint(s, "1") }
    static func dim(_ s: String) -> String { paint(s, "2") }

    static func state(_ s: JobState) -> String {
        switch s {
        case .pending: return paint(s.rawValue, "33")
        case .processing: return paint(s.rawValue, "36")
        case .completed: return paint(s.rawValue, "32")
        case .failed: return paint(s.rawValue, "35")
        case .dead: return paint(s.rawValue, "31")
        case .cancelled: return paint(s.rawValue, "90")
        }
    }


    /// An error is one line, whatever a user's value echoed in it holds: control characters
    /// (a newline in a queue name, a tab) are shown escaped.
    static func oneLine(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = Array("0123456789abcdef")
                    out += "\\x" + String(hex[Int(u.value >> 4)]) + String(hex[Int(u.value & 0xF)])
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    static func err(_ s: String) {
        fflush(stdout)
        fputs(s + "\n", stderr)
    }

    /// Visible width of a string, ignoring colour escapes.
    static func visible(_ s: String) -> Int {
        var n = 0
        var inEsc = false
        for u in s.unicodeScalars {
            if inEsc { if u == "m" { inEsc = false }; continue }
            if u == "\u{1B}" { inEsc = true; continue }
            n += 1
        }
        return n
    }

    /// Cuts plain text to `width` columns with an ellipsis; newlines shown as ⏎.
    static func cut(_ s: String, _ width: Int) -> String {
        let flat = String(s.map { $0 == "\n" || $0 == "\t" ? " " : $0 })
        if flat.count <= width { return flat }
        return String(flat.prefix(max(0, width - 1))) + "…"
    }

    /// Renders rows as aligned columns. The `flex` column shrinks to fit the terminal.
    static func table(_ header: [String], _ rows: [[String]], flex: Int? = nil) -> String {
        var widths = header.map { $0.count }
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], visible(c)) } }
        var rows = rows
        if let f = flex, let total = width {
            let used = widths.enumerated().filter { $0.offset != f }.map { $0.element + 2 }.reduce(0, +)
            let room = max(12, total - used - 1)
            if widths[f] > room {
                widths[f] = room
                rows = rows.map { r in var r = r; r[f] = cut(r[f], room); return r }
            }
        }
        func line(_ cells: [String], isHeader: Bool) -> String {
            var s = ""
            for (i, c) in cells.enumerated() {
                let cell = isHeader ? bold(c) : c
                s += cell
                if i < cells.count - 1 { s += String(repeating: " ", count: widths[i] - visible(c) + 2) }
            }
            return s
        }
        return ([line(header, isHeader: true)] + rows.map { line($0, isHeader: false) }).joined(separator: "\n")
    }
}
