import SpoolSystem

/// An opened spool: its layout and its configuration.
public struct Spool: Sendable {
    public let layout: SpoolLayout
    public let configuration: SpoolConfiguration

    public init(layout: SpoolLayout, configuration: SpoolConfiguration) {
        self.layout = layout
        self.configuration = configuration
    }

    /// Opens the spool at `path`, refusing a directory that is not one.
    public static func open(_ path: String) throws(SpoolError) -> Spool {
        let root: String
        do { root = try FileSystem.canonicalPath(path) } catch {
            throw .notASpool(path: path, reason: error.isNotFound ? "it does not exist" : error.description)
        }
        let layout = SpoolLayout(root: root)
        guard FileSystem.exists(layout.configurationPath) else {
            throw .notASpool(path: path, reason: "it has no spool.json")
        }
        // Directories that later versions added are made when an older spool is opened.
        for directory in layout.directoriesAddedLater where !FileSystem.exists(directory) {
            try? FileSystem.makeDirectory(directory)
        }
        for directory in layout.allDirectories {
            let status: FileStatus?
            do { status = try FileSystem.statusNotFollowing(directory) } catch { throw .system(error) }
            guard let status else {
                throw .notASpool(path: path, reason: "'\(layout.relative(directory))/' is missing")
            }
            if status.kind != .directory { throw .unsafeSpool(path: path, reason: Self.problem(directory, status)) }
        }
        let bytes = try FileSystem.readFile(layout.configurationPath, limit: 1024 * 1024)
        let configuration = try SpoolConfiguration(parsing: bytes, path: layout.configurationPath)
        return Spool(layout: layout, configuration: configuration)
    }

    /// Why a spool's directory that is something else (a link, a file) cannot be used.
    static func problem(_ directory: String, _ status: FileStatus) -> String {
        let name = directory.split(separator: "/").last.map(String.init) ?? directory
        guard status.kind == .symbolicLink else {
            return "'\(name)/' is \(status.kindDescription), not a directory: remove it and make the directory "
                + "('mkdir \(directory)')"
        }
        let target = FileSystem.linkTarget(directory).map { " to '\($0)'" } ?? ""
        return "'\(name)/' is a symbolic link\(target), not a directory, and the spool never reads or writes "
            + "through links (results and logs would land outside it). Make it a real directory: "
            + "'rm \(directory) && mkdir \(directory)', then move in whatever you need from the link's target"
    }

    /// Creates a spool at `path` (the directory may exist; an existing spool.json is kept).
    /// Returns the opened spool.
    @discardableResult
    public static func create(_ path: String) throws(SpoolError) -> Spool {
        do {
            try FileSystem.makeDirectory(path)
            let layout = SpoolLayout(root: try FileSystem.canonicalPath(path))
            // Directories that later versions added are made when an older spool is opened.
            for directory in layout.directoriesAddedLater where !FileSystem.exists(directory) {
                try? FileSystem.makeDirectory(directory)
            }
            for directory in layout.allDirectories { try FileSystem.makeDirectory(directory) }
            if !FileSystem.exists(layout.configurationPath) {
                try FileSystem.writeAtomically(
                    Array(SpoolConfiguration.initialFileContents.utf8), to: layout.configurationPath, durable: true)
            }
        } catch {
            throw .system(error)
        }
        return try open(path)
    }
}
