import Foundation
import Glibc
import SpoolSystem
import Testing

/// `spool run` under systemd's Type=notify, with a fake NOTIFY_SOCKET listener.
@Suite("systemd notification")
struct SystemdNotifyTests {
    /// A bound AF_UNIX datagram socket; `name` starting with "@" is abstract.
    final class Listener {
        let descriptor: Int32
        let path: String?

        init(name: String) throws {
            let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard descriptor >= 0 else { throw TestFailure("socket failed: \(errno)") }
            self.descriptor = descriptor
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(name.utf8)
            if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (index, byte) in bytes.enumerated() { raw[index] = byte }
            }
            let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
            }
            path = bytes[0] == 0 ? nil : name
            guard bound == 0 else { throw TestFailure("bind failed: \(errno)") }
        }

        deinit {
            close(descriptor)
            if let path { unlink(path) }
        }

        /// Datagrams received until `seconds` pass or `stop` says enough.
        func receive(for seconds: Double, until stop: ([String]) -> Bool) -> [String] {
            var messages: [String] = []
            let deadline = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline && !stop(messages) {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&poller, 1, 100) > 0 else { continue }
                let count = recv(descriptor, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
            }
            return messages
        }
    }

    func startProcessor(_ spool: TestSpool, socket: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestSpool.binary)
        process.arguments = ["run", "--spool", spool.root, "--quiet"] + TestSpool.rootHandlerArguments
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = socket
        environment["WATCHDOG_USEC"] = "400000"
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test(
        "READY=1, STATUS lines and watchdog pings, then STOPPING=1 (path and abstract sockets)",
        arguments: [false, true])
    func notifiesSystemd(abstract: Bool) throws {
        let spool = try TestSpool(configuration: #"{"handlers": {"ok": {"command": ["/bin/true"]}}}"#)
        let name =
            abstract ? "@spool-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" : spool.scratch + "/notify.sock"
        let listener = try Listener(name: name)
        let processor = try startProcessor(spool, socket: name)
        defer {
            if processor.isRunning { kill(processor.processIdentifier, SIGKILL) }
            processor.waitUntilExit()
        }
        let running = listener.receive(for: 20) { messages in messages.filter { $0.contains("WATCHDOG=1") }.count >= 2 }
        #expect(running.first?.split(separator: "\n").contains("READY=1") == true)
        #expect(running.first?.contains("STATUS=0 running, 0 queued") == true)
        #expect(running.filter { $0.contains("WATCHDOG=1") }.count >= 2)
        kill(processor.processIdentifier, SIGTERM)
        let stopping = listener.receive(for: 20) { messages in messages.contains { $0.contains("STOPPING=1") } }
        #expect(stopping.contains { $0.split(separator: "\n").contains("STOPPING=1") })
    }
}
