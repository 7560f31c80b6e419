import Foundation
import SpoolSystem
import Testing

/// `spool completions`: the bash script loads and completes commands, options and job ids.
@Suite("Shell completions")
struct CompletionTests {
    /// Runs bash with `spool` first in PATH, the completion script loaded, and `script` after it.
    func bash(_ script: String) throws -> TestSpool.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        let directory = (TestSpool.binary as NSString).deletingLastPathComponent
        process.arguments = ["-c", "source <(spool completions bash) || exit 9\n" + script]
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = directory + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return TestSpool.Result(
            status: process.terminationStatus, standardOutput: String(decoding: out, as: UTF8.self),
            standardError: String(decoding: err, as: UTF8.self))
    }

    @Test("the bash script loads without errors and completes a command, an option and a job id")
    func bashCompletes() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"command": ["/bin/true"]}}}"#)
        try spool.drop("alpha-1.json", #"{"type": "ok"}"#)
        try spool.drop("beta-2.json", #"{"type": "ok"}"#)
        let loaded = try bash("complete -p spool")
        #expect(loaded.status == 0)
        #expect(loaded.standardError.isEmpty)
        #expect(loaded.standardOutput == "complete -F _spool spool\n")
        let completed = try bash(
            """
            COMP_WORDS=(spool sta); COMP_CWORD=1; _spool; echo "commands: ${COMPREPLY[*]}"
            COMP_WORDS=(spool events --fo); COMP_CWORD=2; _spool; echo "options: ${COMPREPLY[*]}"
            COMP_WORDS=(spool show --spool \(spool.root) al); COMP_CWORD=4; _spool; echo "ids: ${COMPREPLY[*]}"
            COMP_WORDS=(spool wait --spool \(spool.root) ''); COMP_CWORD=4; _spool; echo "all: ${COMPREPLY[*]}"
            """)
        #expect(completed.status == 0)
        #expect(completed.standardError.isEmpty)
        #expect(
            completed.standardOutput
                == "commands: stats\noptions: --follow\nids: alpha-1\nall: alpha-1 beta-2\n")
    }

    @Test("zsh and fish scripts name every command; an unknown shell is a usage error")
    func otherShells() throws {
        for shell in ["zsh", "fish"] {
            let script = try TestSpool.run(["completions", shell])
            #expect(script.status == 0)
            for command in ["submit", "wait", "events", "stats"] { #expect(script.standardOutput.contains(command)) }
        }
        #expect(try TestSpool.run(["completions", "tcsh"]).status == 64)
    }
}
