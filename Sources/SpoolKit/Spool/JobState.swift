import SpoolSystem

/// The state of a job is the directory that holds its file.
public enum JobState: String, Sendable, CaseIterable, Codable {
    /// `waiting`: a job whose `after` dependencies have not all finished (never claimed).
    /// `forwarded`: sent to another spool by a route; its outcome comes back through `returns/`.
    case queued, waiting, processing, held, forwarded, done, failed, cancelled

    /// Done, failed and cancelled jobs are finished: nothing moves them but a user's request.
    public var isTerminal: Bool {
        switch self {
        case .done, .failed, .cancelled: return true
        case .queued, .waiting, .processing, .held, .forwarded: return false
        }
    }

    /// The word `list` and `show` print (the seeds' vocabulary: a processing job is "running").
    public var displayName: String { self == .processing ? "running" : rawValue }

    /// Parses a state name as a user types it (`running` is accepted for `processing`).
    public init?(userInput: String) {
        switch userInput.lowercased() {
        case "running", "processing": self = .processing
        case "completed": self = .done
        default:
            guard let state = JobState(rawValue: userInput.lowercased()) else { return nil }
            self = state
        }
    }
}
