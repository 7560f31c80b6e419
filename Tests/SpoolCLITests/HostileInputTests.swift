import Foundation
import Glibc
import SpoolSystem
import Testing

/// Hostile input (issue 8, groups 7-9): random mutations of valid jobs, hostile file names and
/// kinds, and payloads made to look like shell: every file accounted for, nothing outside the
/// spool touched, no shell ever.
@Suite("Hostile input: mutations, hostile files, no shell")
struct HostileInputTests {
    /// A small deterministic generator (SplitMix64), so a failing seed can be replayed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// One mutation of a valid job's bytes.
    static func mutate(_ bytes: [UInt8], _ generator: inout SeededGenerator) -> [UInt8] {
        var bytes = bytes
        switch Int.random(in: 0..<10, using: &generator) {
        case 0:  // flip a bit
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            bytes[index] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
        case 1:  // truncate
            bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
        case 2:  // insert random bytes (NUL, invalid UTF-8, quotes, braces)
            let junk: [UInt8] = [0, 0xFF, 0xC3, 0x22, 0x7B, 0x7D, 0x5B, 0x5C, 0x0A]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes.insert(
                    junk.randomElement(using: &generator)!, at: Int.random(in: 0...bytes.count, using: &generator))
            }
        case 3:  // a BOM
            bytes = [0xEF, 0xBB, 0xBF] + bytes
        case 4:  // a duplicate key
            bytes = Array(#"{"type": "ok", "type": "ok", "p": 1}"#.utf8)
        case 5:  // deep nesting
            let depth = Int.random(in: 100...10_000, using: &generator)
            bytes =
                Array(#"{"type": "ok", "payload": "#.utf8) + Array(repeating: UInt8(ascii: "["), count: depth)
                + Array(repeating: UInt8(ascii: "]"), count: depth) + [UInt8(ascii: "}")]
        case 6:  // a huge number
            bytes =
                Array(#"{"type": "ok", "priority": 1"#.utf8) + Array(repeating: UInt8(ascii: "9"), count: 400)
                + [UInt8(ascii: "}")]
        case 7:  // a wrong type for a known field
            let fields = [
                #""priority": "x""#, #""timeout": []"#, #""maxAttempts": -1"#, #""payload": 5"#, #""after": 3"#,
            ]
            bytes = Array(("{\"type\": \"ok\", " + fields.randomElement(using: &generator)! + "}").utf8)
        case 8:  // swap two bytes
            let a = Int.random(in: 0..<bytes.count, using: &generator)
            let b = Int.random(in: 0..<bytes.count, using: &generator)
            bytes.swapAt(a, b)
        default:  // unchanged: still a valid job
            break
        }
        return bytes
    }

    @Test("seeded random mutations of valid jobs: every file accounted for, the processor never crashes")
    func mutations() throws {
        let count = Int(ProcessInfo.processInfo.environment["SPOOL_MUTATIONS"] ?? "") ?? 5000
        let seed = UInt64(ProcessInfo.processInfo.environment["SPOOL_MUTATION_SEED"] ?? "") ?? 20_261_123
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        var generator = SeededGenerator(state: seed)
        let valid = Array(
            #"{"type": "ok", "priority": 3, "payload": {"name": "x", "list": [1, 2.5, true, null]}}"#.utf8)
        // Exact bytes (NUL, invalid UTF-8), staged outside and renamed in like a producer.
        let staging = spool.scratch + "/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let ids = (0..<count).map { "m-\($0)" }
        for id in ids {
            try Data(Self.mutate(valid, &generator)).write(to: URL(fileURLWithPath: staging + "/" + id + ".json"))
        }
        for id in ids { #expect(rename(staging + "/" + id + ".json", spool.root + "/queued/" + id + ".json") == 0) }
        let run = try spool.spool(["run", "--drain", "--workers", "4"])
        #expect(run.status == 0, "seed \(seed): \(run.standardError.suffix(2000))")
        let done = Set(spool.jobIDs(in: "done"))
        let failed = Set(spool.jobIDs(in: "failed").map { $0.components(separatedBy: ".rejected-")[0] })
        #expect(done.union(failed) == Set(ids), "seed \(seed)")
        #expect(done.isDisjoint(with: failed))
        #expect(spool.names(in: "queued").isEmpty && spool.names(in: "processing").isEmpty)
        for command in [["list"], ["list", "--json"], ["stats"], ["stats", "--json"], ["show", ids[0]], ["fsck"]] {
            let result = try spool.spool(command)
            #expect(result.status == 0, "\(command): \(result.standardError)")
        }
    }

    /// A digest of every name, kind, mode and content below `path`, links not followed.
    static func treeDigest(_ path: String) throws -> String {
        var lines: [String] = []
        let manager = FileManager.default
        for name in try manager.subpathsOfDirectory(atPath: path).sorted() {
            let full = path + "/" + name
            var status = stat()
            guard lstat(full, &status) == 0 else { throw TestFailure("lstat \(full)") }
            var line = "\(name) \(status.st_mode) \(status.st_size) \(status.st_nlink) \(status.st_mtim.tv_sec)"
            if (status.st_mode & S_IFMT) == S_IFREG {
                line += " " + (try String(contentsOfFile: full, encoding: .utf8))
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    @Test("hostile files: links, FIFOs, odd names; nothing opened through a link, nothing outside the spool changed")
    func hostileFiles() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"builtin": "noop"}}}"#)
        let sentinel = spool.scratch + "/sentinel"
        try FileManager.default.createDirectory(atPath: sentinel + "/sub", withIntermediateDirectories: true)
        try "secret\n".write(toFile: sentinel + "/secret.json", atomically: true, encoding: .utf8)
        try #"{"type": "ok"}"#.write(toFile: sentinel + "/sub/job.json", atomically: true, encoding: .utf8)
        let queued = spool.root + "/queued/"

        #expect(symlink(sentinel + "/secret.json", queued + "secret.json") == 0)
        #expect(symlink(sentinel + "/sub", queued + "batchlink") == 0)  // a "batch directory" that is a link
        #expect(symlink(sentinel + "/sub", queued + "dirlink.json") == 0)
        #expect(mkfifo(queued + "pipe.json", 0o600) == 0)
        #expect(link(sentinel + "/sub/job.json", queued + "hard.json") == 0)
        // After the links are made (a hard link raises the file's link count).
        let before = try Self.treeDigest(sentinel)
        var names: [[UInt8]] = [
            Array("new\nline.json".utf8), Array("..json".utf8), Array("...json".utf8),
            Array("bad".utf8) + [0xFF, 0xFE] + Array(".json".utf8),
            Array(String(repeating: "n", count: 250).utf8) + Array(".json".utf8),  // NAME_MAX is 255
        ]
        names.append(Array("-rf.json".utf8))
        for name in names {
            // Raw bytes: a String would replace the invalid UTF-8.
            var path = (Array(queued.utf8) + name).map { CChar(bitPattern: $0) } + [0]
            let fd = open(&path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            #expect(fd >= 0, "\(name)")
            _ = #"{"type": "ok"}"#.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        // Old enough not to be a file still being written.
        usleep(100_000)
        try spool.drop("good.json", #"{"type": "ok"}"#)
        let processor = try spool.startProcessor(["--quiet"])
        #expect(spool.waitUntil(timeout: 30) { spool.jobIDs(in: "done").contains("good") })
        #expect(
            spool.waitUntil(timeout: 30) { spool.names(in: "queued").filter { $0 != "batchlink" }.isEmpty },
            "\(spool.names(in: "queued"))")
        #expect(processor.isRunning)
        #expect(spool.stop(processor) == 0)
        // The links were moved (or left), never followed: the sentinel tree is byte for byte the same.
        #expect(try Self.treeDigest(sentinel) == before)
        for command in [["list"], ["stats"], ["fsck"]] {
            let result = try spool.spool(command)
            #expect(result.status != 70 && result.status < 128, "\(command): \(result.standardError)")
        }
        #expect(try Self.treeDigest(sentinel) == before)
    }

    static let hasStrace = FileManager.default.isExecutableFile(atPath: "/usr/bin/strace")

    @Test("no shell: payloads with shell syntax reach the handler byte for byte")
    func noShell() throws { try noShell(useStrace: false) }

    @Test(
        "no shell, traced: strace -f shows only the configured command exec'd, never a shell",
        .enabled(if: hasStrace, "needs strace"))
    func noShellTraced() throws { try noShell(useStrace: true) }

    func noShell(useStrace: Bool) throws {
        let payloads = [
            "; rm -rf /tmp/x", "$(touch /tmp/spool-pwned)", "`touch /tmp/spool-pwned`", "a\nb\r\nc", "-rf",
            "--option=value", "'quoted' \"double\"", "|| true && false", "> /etc/passwd", "* ? [a-z]",
        ]
        let spool = try TestSpool(configuration: #"{"handlers": {"echo": {"command": ["cat"]}}}"#)
        for (index, payload) in payloads.enumerated() {
            let job = try JSONSerialization.data(withJSONObject: ["type": "echo", "payload": ["text": payload]])
            try spool.drop("s\(index).json", String(decoding: job, as: UTF8.self))
        }
        let trace = spool.scratch + "/strace.txt"
        let arguments = ["run", "--spool", spool.root, "--drain", "--quiet"] + TestSpool.rootHandlerArguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: useStrace ? "/usr/bin/strace" : TestSpool.binary)
        process.arguments =
            useStrace ? ["-f", "-qq", "-e", "trace=execve", "-o", trace, TestSpool.binary] + arguments : arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        for (index, payload) in payloads.enumerated() {
            let output = try #require(spool.contents("results/s\(index).out"), "s\(index)")
            let record = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            #expect((record?["payload"] as? [String: Any])?["text"] as? String == payload)
        }
        #expect(!FileManager.default.fileExists(atPath: "/tmp/spool-pwned"))
        if useStrace {
            // Every execve (tried or done): the processor itself, then only `cat`, never a shell.
            let lines = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
                .filter { $0.contains("execve(\"") }
            let programs = lines.compactMap { line -> String? in
                guard let start = line.range(of: "execve(\"") else { return nil }
                return String(line[start.upperBound...].prefix { $0 != "\"" })
            }
            #expect(programs.first == TestSpool.binary)
            #expect(programs.dropFirst().allSatisfy { $0.hasSuffix("/cat") }, "\(programs)")
            #expect(programs.dropFirst().count >= payloads.count, "\(programs)")
        }
    }
}
