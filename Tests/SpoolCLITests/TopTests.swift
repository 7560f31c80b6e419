import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool top` in a real terminal: tmux (installed by .ci/run) with send-keys and capture-pane.
@Suite("Live view under tmux")
struct TopTests {
    /// A tmux server of its own, so that tests in parallel do not meet.
    final class Tmux {
        let socket = "spool-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        /// Runs tmux through posix_spawn and waitpid: Foundation's Process waits forever for a
        /// client whose session's server (a daemon it forked) outlives it.
        @discardableResult
        func run(_ arguments: [String]) throws -> String {
            let path = NSTemporaryDirectory() + socket + "-\(UInt32.random(in: 0...UInt32.max)).out"
            defer { unlink(path) }
            let quoted = (["tmux", "-L", socket] + arguments).map {
                "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'"
            }
            let command = quoted.joined(separator: " ") + " > " + path + " 2>/dev/null < /dev/null"
            var pid: pid_t = 0
            let words: [String] = ["/bin/sh", "-c", command]
            var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            guard posix_spawn(&pid, "/bin/sh", nil, nil, &argv, environ) == 0 else { throw TestFailure("spawn failed") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            return (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        }

        deinit { _ = try? run(["kill-server"]) }
    }

    @Test("top shows running jobs' progress, follows new jobs, and q restores the terminal")
    func topUnderTmux() throws {
        let spool = try TestSpool(
            configuration: """
                {"handlers": {"slow": \(TestSpool.shellHandler("cat >/dev/null; echo progress 40 >&3; sleep 60")),
                              "later": {"command": ["/bin/true"]}}}
                """)
        #expect(try spool.spool(["hold", "--type", "later"]).status == 0)
        let processor = try spool.startProcessor()
        defer { _ = spool.stop(processor) }
        let tmux = Tmux()
        try tmux.run([
            "new-session", "-d", "-x", "80", "-y", "24", "TERM=xterm \(TestSpool.binary) top --spool \(spool.root)",
        ])
        try tmux.run(["set-option", "-g", "remain-on-exit", "on"])
        func screen() -> String { (try? tmux.run(["capture-pane", "-p"])) ?? "" }
        #expect(spool.waitUntil(timeout: 20) { screen().contains("spool top") })
        #expect(try tmux.run(["display", "-p", "#{alternate_on}"]) == "1\n")

        #expect(try spool.spool(["submit", "--type", "slow"]).status == 0)
        #expect(spool.waitUntil(timeout: 20) { screen().contains("[########............] 40%") })
        // A job that only waits in queued/ (its type is held): the journal's line wakes the view.
        #expect(try spool.spool(["submit", "--type", "later"]).status == 0)
        #expect(spool.waitUntil(timeout: 10) { screen().contains("queued 1") })
        #expect(screen().contains("held types: later"))
        #expect(screen().split(separator: "\n").allSatisfy { $0.count <= 80 })

        try tmux.run(["send-keys", "q"])
        #expect(spool.waitUntil(timeout: 10) { (try? tmux.run(["display", "-p", "#{pane_dead}"])) == "1\n" })
        #expect(try tmux.run(["display", "-p", "#{alternate_on}"]) == "0\n")
        #expect(!screen().contains("spool top"))
    }

    @Test("on a dumb terminal top prints plain snapshots without escape sequences")
    func dumbTerminal() throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"command": ["/bin/true"]}}}"#)
        let tmux = Tmux()
        let output = spool.scratch + "/top.out"
        try tmux.run([
            "new-session", "-d", "-x", "80", "-y", "24",
            "TERM=dumb \(TestSpool.binary) top --spool \(spool.root) > \(output)",
        ])
        #expect(
            spool.waitUntil(timeout: 20) {
                (try? String(contentsOfFile: output, encoding: .utf8))?.contains("RUNNING") == true
            })
        #expect(try spool.spool(["submit", "--type", "ok"]).status == 0)
        #expect(
            spool.waitUntil(timeout: 10) {
                (try? String(contentsOfFile: output, encoding: .utf8))?.contains("queued 1") == true
            })
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(!text.contains("\u{1B}"))
    }
}
