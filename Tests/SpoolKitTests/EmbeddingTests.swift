import Foundation
import SpoolJSON
import SpoolSystem
import Testing

@testable import SpoolKit

/// A program that embeds SpoolKit registers in-process handlers.
@Suite("Embedding")
struct EmbeddingTests {
    struct Doubler: JobHandler {
        func run(_ invocation: HandlerInvocation, context: HandlerContext) -> HandlerResult {
            guard let number = invocation.record.fields["payload"]?.intValue else {
                return .failure(reason: "payload must be a number", exitCode: nil, signal: nil)
            }
            context.reportProgress(50)
            do { try context.writeResult(Array("\(number * 2)\n".utf8)) } catch {
                return .failure(reason: "\(error)", exitCode: nil, signal: nil)
            }
            return .success
        }
    }

    @Test("an in-process handler runs jobs of its type; its result and failures are recorded")
    func inProcessHandler() throws {
        let directory = NSTemporaryDirectory() + "spool-embed-" + JobID.randomSuffix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool.create(directory)
        let store = JobStore(spool: spool, inProcessTypes: ["double"])
        let good = try store.submit(
            JobRecord(fields: JSONObject([("type", .string("double")), ("payload", JSONValue(21))])))
        let bad = try store.submit(
            JobRecord(
                fields: JSONObject([
                    ("type", .string("double")), ("payload", .string("x")), ("maxAttempts", JSONValue(1)),
                ])))
        // The default spool.json's "echo" command has no "user": allowed, should the tests run as root.
        let processor = SpoolProcessor(
            spool: spool, options: .init(workers: 2, drain: true, allowRootHandlers: true),
            handlers: ["double": Doubler()])
        let summary = try processor.run()
        #expect(summary.done == 1 && summary.failed == 1)
        #expect(try String(contentsOfFile: spool.layout.resultPath(good), encoding: .utf8) == "42\n")
        let failed = try JobRecord(
            parsing: FileSystem.readFile(spool.layout.jobPath(bad, in: .failed)), path: "failed")
        #expect(failed.error == "payload must be a number")
    }
}

@Suite("Staging cleanup")
struct StagingTests {
    @Test("stale files in tmp/ older than a day are removed; fresh ones stay")
    func staleTemporaries() throws {
        let directory = NSTemporaryDirectory() + "spool-stage-" + JobID.randomSuffix(8)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = try Spool.create(directory)
        let old = spool.layout.temporaryDirectory + "/result-x.1.abc.tmp"
        let fresh = spool.layout.temporaryDirectory + "/result-y.1.abc.tmp"
        let other = spool.layout.temporaryDirectory + "/notes.txt"
        for path in [old, fresh, other] { _ = FileManager.default.createFile(atPath: path, contents: Data("x".utf8)) }
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -2 * 24 * 3600)], ofItemAtPath: old)
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -2 * 24 * 3600)], ofItemAtPath: other)
        #expect(JobStore(spool: spool).removeStaleTemporaries() == 1)
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(FileManager.default.fileExists(atPath: fresh))
        #expect(FileManager.default.fileExists(atPath: other))
    }
}
