import Foundation
import Glibc
import SpoolSystem
import Testing

/// Simulated power cuts (issue 8, group 2): `tests/scripts/power-cut.sh` on ext4 and XFS loop
/// images shut down with FS_IOC_SHUTDOWN. Root only (skipped otherwise); the script skips, with
/// a message, a file system it cannot make or mount here.
@Suite("Power cuts on loop images")
struct PowerCutTests {
    @Test(
        "ext4 and XFS, shut down at a random moment: every acknowledged job present once, parseable; fsck clean",
        .enabled(if: getuid() == 0, "loop images and FS_IOC_SHUTDOWN need root"))
    func powerCuts() throws {
        var directory = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { directory.deleteLastPathComponent() }
        let script = directory.appendingPathComponent("tests/scripts/power-cut.sh").path
        let iterations = ProcessInfo.processInfo.environment["SPOOL_POWER_CUTS"] ?? "10"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [script, iterations, "ext4", "xfs"]
        process.environment = ProcessInfo.processInfo.environment.merging(["SPOOL_BIN": TestSpool.binary]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print(text)
        #expect(process.terminationStatus == 0, "\(text)")
        for line in text.split(separator: "\n") where line.hasPrefix("power-cut ") && !line.contains("skipped") {
            #expect(line.contains("lost 0, duplicated 0, damaged 0, fsck unclean 0"), "\(line)")
        }
    }
}
