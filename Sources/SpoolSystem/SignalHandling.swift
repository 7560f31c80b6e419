import Dispatch
import Glibc

/// Turns SIGTERM, SIGINT (and SIGHUP) into calls of a handler, through Dispatch signal sources:
/// no code runs in signal context. The sources are created in this nonisolated function: a
/// handler closure formed in a main-actor context would trap at run time.
public final class SignalHandling: @unchecked Sendable {
    // Only lets; DispatchSource types are not Sendable on Linux.
    private let sources: [any DispatchSourceSignal]

    public init(signals: [Int32] = [SIGTERM, SIGINT], handler: @escaping @Sendable (Int32) -> Void) {
        // A parent may have spawned us with these signals blocked (libdispatch threads block
        // them, and children inherit the mask): unblock them, or no stop request would arrive.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for number in signals { sigaddset(&unblock, number) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
        var made: [any DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { @Sendable in handler(number) }
            source.resume()
            made.append(source)
        }
        sources = made
    }

    public func cancel() {
        for source in sources { source.cancel() }
    }

    public static let terminate = SIGTERM
    public static let interrupt = SIGINT
}
