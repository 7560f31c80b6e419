import Glibc

/// The process's working directory, for making command-line paths absolute.
public enum WorkingDirectory {
    /// An absolute path for `path`: unchanged when absolute, else under the working directory
    /// (getcwd(3)); unchanged when the working directory cannot be read.
    public static func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return directory == "/" ? "/" + path : directory + "/" + path
    }
}
