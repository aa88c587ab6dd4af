import XCTest
@testable import QueueCore

final class ArgumentParserTests: XCTestCase {
    let root = CommandSpec(
        "tool", summary: "a test tool",
        subcommands: [
            CommandSpec("run", summary: "run things",
                        arguments: [ArgumentSpec("NAME", help: "the name to run")],
                        options: [OptionSpec("count", short: "n", value: "N", help: "how many times"),
                                  OptionSpec("tag", value: "T", help: "a tag", repeatable: true),
                                  OptionSpec("dry", help: "only pretend")],
                        takesRest: true),
            CommandSpec("db", summary: "database", subcommands: [
                CommandSpec("drop", summary: "drop it", arguments: [ArgumentSpec("ID", help: "ids", optional: true, variadic: true)]),
            ]),
        ])

    func parse(_ args: [String]) throws -> ParsedCommand {
        guard case .run(let c) = try ArgumentParser.parse(args, root: root, program: "tool") else {
            XCTFail("expected a command")
            return ParsedCommand()
        }
        return c
    }

    func usageError(_ args: [String]) -> String {
        do {
            _ = try ArgumentParser.parse(args, root: root, program: "tool")
        } catch let e as QueueError {
            XCTAssertEqual(e.exitCode, 2)
            return e.description
        } catch {}
        XCTFail("expected a usage error for \(args)")
        return ""
    }

    func testParsesOptionsInEveryForm() throws {
        let c = try parse(["run", "x", "--count", "3", "--tag=a", "--tag", "b", "--dry", "--home", "/h"])
        XCTAssertEqual(c.path, ["run"])
        XCTAssertEqual(c.arguments, ["x"])
        XCTAssertEqual(c.value("count"), "3")
        XCTAssertEqual(c.all("tag"), ["a", "b"])
        XCTAssertTrue(c.flag("dry"))
        XCTAssertEqual(c.value("home"), "/h")
        XCTAssertEqual(try parse(["run", "-n", "4", "y"]).value("count"), "4")
    }

    func testCollectsEverythingAfterDoubleDash() throws {
        let c = try parse(["run", "x", "--", "echo", "--count", "-n"])
        XCTAssertEqual(c.rest, ["echo", "--count", "-n"])
        XCTAssertTrue(c.sawDashDash)
        XCTAssertNil(c.value("count"))
    }

    func testNestedSubcommandsAndVariadicArguments() throws {
        let c = try parse(["db", "drop", "a", "b", "c"])
        XCTAssertEqual(c.path, ["db", "drop"])
        XCTAssertEqual(c.arguments, ["a", "b", "c"])
    }

    func testReportsMistakes() {
        XCTAssertTrue(usageError(["runn", "x"]).contains("did you mean: ") && usageError(["runn", "x"]).hasSuffix(" run x"))
        XCTAssertTrue(usageError(["run", "x", "--cuont", "1"]).hasSuffix("did you mean: tool run x --count 1"))
        XCTAssertTrue(usageError(["run", "x", "--count"]).contains("needs a value"))
        XCTAssertTrue(usageError(["run", "x", "--count", "1", "--count", "2"]).contains("given twice"))
        XCTAssertTrue(usageError(["run"]).contains("missing argument NAME"))
        XCTAssertTrue(usageError(["run", "x", "y"]).hasSuffix("did you mean: tool run x -- y"))  // a command's words go after --
        XCTAssertTrue(usageError(["db"]).contains("needs a command"))
        XCTAssertTrue(usageError(["db", "drop", "--", "x"]).contains("not accepted"))
        XCTAssertTrue(usageError(["run", "x", "--dry=yes"]).contains("takes no value"))
    }

    func testHelpComesFromTheDeclaration() throws {
        guard case .help(let text) = try ArgumentParser.parse(["run", "--help"], root: root, program: "tool") else {
            XCTFail("expected help")
            return
        }
        for needle in ["Usage: tool run", "how many times", "--count N", "a tag (repeatable)", "only pretend", "the name to run", "--home DIR"] {
            XCTAssertTrue(text.contains(needle), "help lacks \(needle)")
        }
        guard case .help(let top) = try ArgumentParser.parse(["-h"], root: root, program: "tool") else {
            XCTFail("expected help")
            return
        }
        XCTAssertTrue(top.contains("run") && top.contains("database"))
        guard case .version = try ArgumentParser.parse(["--version"], root: root, program: "tool") else {
            XCTFail("expected version")
            return
        }
    }
}
