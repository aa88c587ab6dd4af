import Glibc
import QueueCore

let version = "0.1.0"
let program = "queuectl"

/// Entry point: parse, run, and turn every error into one line on stderr and exit code 1 or 2.
func main() -> Int32 {
    let args = Array(CommandLine.arguments.dropFirst())
    do {
        // The narrow table when it parses the line into a command; anything else (help, the
        // version, an error with its suggestions) comes from the whole table.
        let outcome: ParseOutcome
        if let narrow = CommandTable.narrowRoot(for: args).flatMap({ try? ArgumentParser.parse(args, root: $0, program: program) }),
           case .run = narrow {
            outcome = narrow
        } else {
            outcome = try ArgumentParser.parse(args, root: CommandTable.root, program: program)
        }
        switch outcome {
        case .help(let text):
            print(text, terminator: "")
            return 0
        case .version:
            print("\(program) \(version)")
            return 0
        case .run(let cmd):
            let home = try Home.resolve(flag: cmd.value("home"))
            let store = JSONStore(home: home)
            // Compactions run in a detached copy of this binary, beside the queue.
            JSONStore.compactor = .detached
            return try Commands.run(cmd, store: store)
        }
    } catch {
        let q = QueueError.from(error)
        Terminal.err("\(program): error: \(Terminal.oneLine(q.description))")
        return q.exitCode
    }
}

exit(main())
