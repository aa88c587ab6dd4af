import XCTest
@testable import QueueCore

/// Edge values for the parsers every number and date goes through: durations, ISO-8601 dates,
/// config values, and the retry backoff they feed.
final class ParsingEdgeTests: XCTestCase {
    static let huge = String(repeating: "9", count: 100_000)

    // MARK: Clock.parseDuration

    /// Whatever it returns for hostile text is a finite, non-negative number or nil; it never traps.
    func testParseDurationNeverReturnsANonFiniteOrNegativeValue() {
        for text in ["1e300", "-1e300", "1e999", "1e300s", "1e300d", "NaN", "nan", "Infinity", "-Infinity", "inf", "-inf",
                     "", " ", "-1", "-5s", "100000000d", "9223372036854775808", "9223372036854775807", "1.5.5s", "5x",
                     "s", "1h-30m", "0x10", "1_000", String(repeating: "9", count: 400) + "d",
                     String(repeating: "1d", count: 5_000), String(repeating: "9", count: 400) + "ms"] {
            if let d = Clock.parseDuration(text) {
                XCTAssertTrue(d.isFinite, "\(text.prefix(40)) → \(d)")
                XCTAssertTrue(d >= 0, "\(text.prefix(40)) → \(d)")
            }
        }
    }

    func testParseDurationOfAHundredThousandDigitsDoesNotTrap() {
        let d = Clock.parseDuration(Self.huge)
        XCTAssertTrue(d == nil || (d!.isFinite && d! >= 0), "\(String(describing: d))")
        let withUnit = Clock.parseDuration(Self.huge + "s")
        XCTAssertTrue(withUnit == nil || (withUnit!.isFinite && withUnit! >= 0), "\(String(describing: withUnit))")
    }

    func testParseDurationRefusesWhatIsNotADuration() {
        for text in ["NaN", "nan", "Infinity", "-Infinity", "inf", "", "   ", "-1", "-5s", "1e999"] {
            XCTAssertNil(Clock.parseDuration(text), "\(text.debugDescription)")
        }
    }

    /// The edges of the range (the ordinary values are in JSONAndClockTests.testParsesDurations).
    func testParseDurationKnownValues() {
        XCTAssertEqual(Clock.parseDuration("0"), 0)
        XCTAssertEqual(Clock.parseDuration("36525d"), 3_155_760_000)
        XCTAssertTrue(Clock.parseDuration("100000000d") == 8.64e12 || Clock.parseDuration("100000000d") == nil, "\(String(describing: Clock.parseDuration("100000000d")))")
    }

    // MARK: Clock.parseISO

    func testParsesTheLastMillisecondOfYear9999() {
        XCTAssertEqual(Clock.parseISO("9999-12-31T23:59:59.999Z"), 253_402_300_799_999)
        XCTAssertEqual(Clock.parseISO("9999-12-31T23:59:59Z"), 253_402_300_799_000)
        XCTAssertEqual(Clock.parseISO("9999-12-31T23:59:59.999+00:00"), 253_402_300_799_999)
    }

    func testLastMillisecondOfYear9999RoundTrips() throws {
        let ms = try XCTUnwrap(Clock.parseISO("9999-12-31T23:59:59.999Z"))
        XCTAssertEqual(Clock.iso(ms), "9999-12-31T23:59:59.999Z")
        XCTAssertEqual(Clock.parseISO(Clock.iso(ms)), ms)
    }

    func testParsesTheEpoch() {
        XCTAssertEqual(Clock.parseISO("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(Clock.parseISO("1970-01-01T00:00:00.000Z"), 0)
        XCTAssertEqual(Clock.parseISO("1970-01-01T01:00:00+01:00"), 0)
    }

    /// Outside 1970-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z: nil, whatever the spelling.
    func testParseISORefusesDatesOutsideTheRange() {
        for text in ["10000-01-01T00:00:00Z", "10000-01-01", "0000-01-01", "0000-01-01T00:00:00Z", "0000-01-01T00:00:00.000Z",
                     "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999Z", "1969-12-31", "1900-01-01T00:00:00Z",
                     "1970-01-01T00:59:59+01:00", "9999-12-31T23:59:60Z", "9999-12-31T23:59:59-01:00",
                     "9999-12-31T23:59:59.999-00:01", "+10000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z"] {
            XCTAssertNil(Clock.parseISO(text), "\(text) → \(String(describing: Clock.parseISO(text)))")
        }
    }

    func testParseISORefusesNonDates() {
        for text in ["", "NaN", "1e300", "9999-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z"] {
            XCTAssertNil(Clock.parseISO(text), "\(text.debugDescription)")
        }
    }

    func testParseISOOfAHundredThousandCharactersDoesNotTrap() {
        XCTAssertNil(Clock.parseISO(Self.huge))
        // 100,000 fraction digits: refused, or read as a time within that second (truncated or rounded).
        if let t = Clock.parseISO("2026-01-01T00:00:00." + Self.huge + "Z") {
            XCTAssertTrue((1_767_225_600_000...1_767_225_601_000).contains(t), "\(t)")
        }
    }

    // MARK: Lifecycle.backoff

    /// backoff_base 1000000: base^k overflows a Double from k = 52 on; the wait saturates at
    /// backoff_max and stays finite.
    func testBackoffSaturatesAtBackoffMax() {
        for k in [1, 64, 10_000, Int(Int32.max), Int.max] {
            var c = Config()
            c.values["backoff_base"] = 1e6
            let b = Lifecycle.backoff(afterAttempt: k, config: c)
            XCTAssertEqual(b, c.backoffMax, "k \(k)")
            XCTAssertTrue(b.isFinite, "k \(k): \(b)")
        }
    }

    func testBackoffSaturatesAtTheLargestBackoffMax() {
        for k in [1, 64, 10_000, Int(Int32.max)] {
            var c = Config()
            c.values["backoff_base"] = 1e6
            c.values["backoff_max"] = 3_155_760_000
            let b = Lifecycle.backoff(afterAttempt: k, config: c)
            XCTAssertEqual(b, (k == 1 ? 1e6 : 3_155_760_000), "k \(k)")
            XCTAssertTrue(b.isFinite, "k \(k): \(b)")
        }
    }

    /// A retry with the largest backoff is scheduled 100 years ahead, without trapping.
    func testFinishWithTheLargestBackoffSchedulesTheRetry() {
        var c = Config()
        c.values["backoff_base"] = 1e6
        c.values["backoff_max"] = 3_155_760_000
        var job = Job(id: "j", command: "false", maxRetries: 1_000_000_000, createdAt: 0, cwd: "/")
        job.attempts = 64
        let now: Millis = 1_795_343_400_000
        let r = Lifecycle.finish(&job, outcome: Outcome(exitCode: 1), now: now, config: c)
        XCTAssertEqual(r, .retry(at: now + 3_155_760_000_000))
        XCTAssertEqual(job.state, .failed)
    }

    // MARK: Config.parse

    static let outOfRange: [(String, String)] = [
        ("max_retries", "-1"), ("max_retries", "1.5"), ("max_retries", "1000000001"), ("max_retries", "1e300"),
        ("max_retries", "9223372036854775808"), ("max_retries", "NaN"), ("max_retries", ""),
        ("backoff_base", "0"), ("backoff_base", "0.999"), ("backoff_base", "1000001"), ("backoff_base", "1e300"),
        ("backoff_base", "Infinity"), ("backoff_base", "nan"),
        ("backoff_max", "-1"), ("backoff_max", "3155760001"), ("backoff_max", "100000000d"), ("backoff_max", "36526d"),
        ("backoff_max", "1e300"), ("backoff_max", "Infinity"),
        ("job_timeout", "-1"), ("job_timeout", "3155760001"), ("job_timeout", "100000000d"), ("job_timeout", "1e300"),
        ("poll_interval", "0"), ("poll_interval", "0.009"), ("poll_interval", "3601"), ("poll_interval", "2h"), ("poll_interval", "1e300"),
        ("kill_grace", "-1"), ("kill_grace", "3601"), ("kill_grace", "1e300"),
        ("lease_timeout", "0"), ("lease_timeout", "0.99"), ("lease_timeout", "86401"), ("lease_timeout", "2d"),
        ("log_max_bytes", "-1"), ("log_max_bytes", "1.5"), ("log_max_bytes", "1099511627777"), ("log_max_bytes", "1e300"),
        ("log_max_bytes", "9223372036854775808"),
        ("retention", "-1"), ("retention", "3155760001"), ("retention", "100000000d"), ("retention", "1e300"),
        ("journal_max_bytes", "0"), ("journal_max_bytes", "4095"), ("journal_max_bytes", "1073741825"),
        ("journal_max_bytes", "1.5"), ("journal_max_bytes", "1e300"),
        ("fsync", "2"), ("fsync", "-1"), ("fsync", "0.5"), ("fsync", "1e300"), ("fsync", "NaN"),
    ]

    /// Each pair on its own: a key that is not found fails that pair (XCTUnwrap records it), and the next pair still runs.
    func testConfigParseRefusesOutOfRange() {
        for (key, value) in ParsingEdgeTests.outOfRange {
            do {
                let k = try XCTUnwrap(Config.key(named: key), "\(key) = \(value): no such key")
                XCTAssertThrowsError(try Config.parse(key: k, value: value), "\(key) = \(value)")
            } catch {
                XCTFail("\(key) = \(value): \(error)")
            }
        }
    }

    func testConfigParseRefusesAHundredThousandDigits() {
        for key in Config.keys.map(\.name) {
            do {
                let k = try XCTUnwrap(Config.key(named: key), "\(key): no such key")
                XCTAssertThrowsError(try Config.parse(key: k, value: Self.huge), "\(key) = 100,000 nines")
            } catch {
                XCTFail("\(key): \(error)")
            }
        }
    }

    static let bounds: [(String, String, Double)] = [
        ("max_retries", "0", 0), ("max_retries", "1000000000", 1_000_000_000),
        ("backoff_base", "1", 1), ("backoff_base", "1000000", 1_000_000),
        ("backoff_max", "0", 0), ("backoff_max", "3155760000", 3_155_760_000), ("backoff_max", "36525d", 3_155_760_000),
        ("job_timeout", "0", 0), ("job_timeout", "3155760000", 3_155_760_000),
        ("poll_interval", "0.01", 0.01), ("poll_interval", "3600", 3600), ("poll_interval", "1h", 3600),
        ("kill_grace", "0", 0), ("kill_grace", "3600", 3600),
        ("lease_timeout", "1", 1), ("lease_timeout", "86400", 86400), ("lease_timeout", "30s", 30),
        ("log_max_bytes", "0", 0), ("log_max_bytes", "1099511627776", 1_099_511_627_776),
        ("retention", "0", 0), ("retention", "3155760000", 3_155_760_000),
        ("journal_max_bytes", "4096", 4096), ("journal_max_bytes", "1073741824", 1_073_741_824),
        ("fsync", "0", 0), ("fsync", "1", 1),
    ]

    func testConfigParseAcceptsTheBounds() {
        for (key, value, expected) in ParsingEdgeTests.bounds {
            do {
                let k = try XCTUnwrap(Config.key(named: key), "\(key) = \(value): no such key")
                XCTAssertEqual(try Config.parse(key: k, value: value), expected, "\(key) = \(value)")
            } catch {
                XCTFail("\(key) = \(value): \(error)")
            }
        }
    }
}
