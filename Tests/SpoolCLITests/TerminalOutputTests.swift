import Foundation
import Glibc
import SpoolSystem
import Testing

/// Control characters from a submitter's job or a handler's output (issue 21): on a terminal,
/// `show`, `logs`, `list`, `events` and `result` make them visible (`\u001b`, `\xff` for a byte
/// that is not UTF-8); into a pipe they write the bytes as they are.
@Suite("Control characters on a terminal")
struct TerminalOutputTests {
    /// A handler writing escape sequences, a C1 control (U+009B) and an invalid byte to its
    /// result, and a title-setting OSC sequence to its log.
    static let configuration = """
        {"handlers": {"noisy": \(TestSpool.shellHandler(
                #"printf 'out \033[2J \302\233 bin \377\n'; printf 'err \033]0;pwned\007 done\n' >&2"#))}}
        """

    /// A spool with the job `evil` done by `noisy`, and `titled` (its type an OSC sequence) cancelled.
    static func preparedSpool() throws -> TestSpool {
        let spool = try TestSpool(configuration: configuration)
        try spool.drop("evil.json", #"{"type": "noisy", "note": "\u001b[2Jwiped\u0007 \u009b6n", "payload": {"x": 1}}"#)
        #expect(try spool.spool(["run", "--drain"]).status == 0)
        #expect(spool.jobIDs(in: "done") == ["evil"])
        try spool.drop("titled.json", #"{"type": "\u001b]0;title\u0007"}"#)
        #expect(try spool.spool(["cancel", "titled"]).status == 0)
        return spool
    }

    /// What `spool ARGS --spool ROOT` writes to a terminal: run under `script` (util-linux), with
    /// the terminal's CR LF line ends read back as LF.
    static func onTerminal(_ spool: TestSpool, _ arguments: [String]) throws -> [UInt8] {
        let command = ([TestSpool.binary] + arguments + ["--spool", spool.root])
            .map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let bytes = try raw("/usr/bin/script", ["-qec", command, "/dev/null"])
        var output: [UInt8] = []
        for (index, byte) in bytes.enumerated() where !(byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10)
        {
            output.append(byte)
        }
        return output
    }

    /// What `spool ARGS --spool ROOT` writes into a pipe, byte for byte.
    static func inPipe(_ spool: TestSpool, _ arguments: [String]) throws -> [UInt8] {
        try raw(TestSpool.binary, arguments + ["--spool", spool.root])
    }

    static func raw(_ program: String, _ arguments: [String]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(arguments)")
        return Array(data)
    }

    /// No ESC, BEL or C1 control reaches the terminal.
    static func isInert(_ bytes: [UInt8]) -> Bool {
        !bytes.contains(0x1B) && !bytes.contains(0x07)
            && !zip(bytes, bytes.dropFirst()).contains { $0 == 0xC2 && (0x80...0x9F).contains($1) }
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("show, logs, list, events and result escape control characters on a terminal")
    func escapedOnTerminal() throws {
        let spool = try Self.preparedSpool()
        let show = try Self.onTerminal(spool, ["show", "evil"])
        #expect(Self.isInert(show))
        #expect(Self.text(show).contains(#"note:       \u001b[2Jwiped\u0007 \u009b6n"#), "\(Self.text(show))")
        #expect(Self.text(show).contains(#"stderr: err \u001b]0;pwned\u0007 done"#))

        let logs = try Self.onTerminal(spool, ["logs", "evil"])
        #expect(Self.isInert(logs))
        #expect(Self.text(logs).contains(#"stderr: err \u001b]0;pwned\u0007 done"#))

        let result = try Self.onTerminal(spool, ["result", "evil"])
        #expect(Self.text(result) == #"out \u001b[2J \u009b bin \xff"# + "\n")

        let list = try Self.onTerminal(spool, ["list"])
        #expect(Self.isInert(list))
        #expect(Self.text(list).contains(#"\u001b]0;title"#))

        let events = try Self.onTerminal(spool, ["events"])
        #expect(Self.isInert(events))
        #expect(Self.text(events).contains(#"\u001b]0;titl"#))

        // JSON stays valid JSON with the same strings: C1 controls shown as \u00XX escapes.
        let json = try Self.onTerminal(spool, ["show", "evil", "--json"])
        #expect(Self.isInert(json))
        let record = try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any]
        #expect(record?["note"] as? String == "\u{1B}[2Jwiped\u{07} \u{9B}6n")
    }

    @Test("into a pipe the same commands write the bytes as they are")
    func byteExactInPipe() throws {
        let spool = try Self.preparedSpool()
        let show = Self.text(try Self.inPipe(spool, ["show", "evil"]))
        #expect(show.contains("note:       \u{1B}[2Jwiped\u{07} \u{9B}6n"))
        #expect(show.contains("stderr: err \u{1B}]0;pwned\u{07} done"))
        let logFile = try Array(Data(contentsOf: URL(fileURLWithPath: spool.root + "/logs/evil.log")))
        #expect(try Self.inPipe(spool, ["logs", "evil"]) == logFile)
        let resultFile = try Array(Data(contentsOf: URL(fileURLWithPath: spool.root + "/results/evil.out")))
        #expect(resultFile == Array("out \u{1B}[2J \u{9B} bin ".utf8) + [0xFF, 0x0A])
        #expect(try Self.inPipe(spool, ["result", "evil"]) == resultFile)
        #expect(Self.text(try Self.inPipe(spool, ["list"])).contains("\u{1B}]0;title"))
        #expect(Self.text(try Self.inPipe(spool, ["events"])).contains("\u{1B}]0;titl"))
    }
}
