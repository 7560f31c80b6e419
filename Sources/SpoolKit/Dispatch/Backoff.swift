import SpoolSystem

/// Retry backoff: attempt n waits `min(maximum, base × 2^(n-1))` seconds, less a random jitter
/// of up to 20 %, so that jobs failing together do not all come due again at the same moment.
public struct Backoff: Sendable, Equatable {
    public var base: Double
    public var maximum: Double
    public static let jitterFraction = 0.2

    public init(base: Double, maximum: Double) {
        self.base = base
        self.maximum = maximum
    }

    /// The ceiling for attempt `n` (1-based), before jitter.
    public func ceiling(afterAttempt attempt: Int) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 60)))
        return min(maximum, base * pow2(exponent))
    }

    /// The delay for attempt `n`, jittered within [ceiling × 0.8, ceiling].
    public func delay<G: RandomNumberGenerator>(afterAttempt attempt: Int, using generator: inout G) -> Double {
        let ceiling = ceiling(afterAttempt: attempt)
        return ceiling * (1 - Double.random(in: 0...Backoff.jitterFraction, using: &generator))
    }

    public func delay(afterAttempt attempt: Int) -> Double {
        var generator = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, using: &generator)
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}
