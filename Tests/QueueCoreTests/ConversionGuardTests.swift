import Foundation
import XCTest

/// A conversion from a floating-point value to an integer traps when the value is out of range
/// or NaN, and a number that came from a user, config.json or the disk can be anything. Every
/// such conversion in the sources must say on its line why it cannot trap (`// checked: …`),
/// so a new one cannot slip in unreviewed. Values are range-checked where they enter
/// (JobInput, Config, Clock.millis) and clamped where they are used.
final class ConversionGuardTests: XCTestCase {
    static let pattern = try! NSRegularExpression(pattern:
        #"\b(Int|Int32|Int64|UInt32|UInt64|Millis|time_t|off_t)\((?!clamping|truncatingIfNeeded|bitPattern|exactly)[^()]*(\([^()]*\))*[^()]*(\* ?1000|\* ?100\b|\* ?1e|seconds|[Dd]ouble|\.rounded|pow\(|tenths|delay)"#)

    func testEveryFloatToIntegerConversionIsMarkedChecked() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(atPath: sources.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        XCTAssertTrue(files.count > 20, "found the sources")
        var unchecked: [String] = []
        var checked = 0
        for f in files {
            let text = try String(contentsOfFile: sources.appendingPathComponent(f).path, encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let l = String(line)
                if l.trimmingCharacters(in: .whitespaces).hasPrefix("//") { continue }
                guard ConversionGuardTests.pattern.firstMatch(in: l, range: NSRange(l.startIndex..., in: l)) != nil else { continue }
                if l.contains("// checked:") { checked += 1 } else { unchecked.append("\(f):\(n + 1): \(l.trimmingCharacters(in: .whitespaces))") }
            }
        }
        XCTAssertTrue(unchecked.isEmpty, "float-to-integer conversions without a `// checked:` reason:\n\(unchecked.joined(separator: "\n"))")
        XCTAssertTrue(checked >= 5, "the pattern still finds the known conversions (\(checked))")
    }
}
