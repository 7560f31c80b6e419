import SpoolJSON
import SpoolSystem

/// What a parent's children become when a child fails (seed 001's default is `complete`).
public enum ChildFailurePolicy: String, Sendable, CaseIterable {
    /// Run every child; the parent ends in `done/`, its `error` naming how many children failed.
    case complete
    /// Run every child; the parent ends in `failed/` if any child failed.
    case fail
    /// At the first failed child, cancel the others; the parent ends in `failed/`.
    case failFast
}

/// A parent job's `batch` section: which payload field holds the list to split, and how.
///
///     "batch": {"items": "RadarID", "size": 400, "childType": "lookup", "onChildFailure": "complete"}
public struct BatchSpecification: Sendable, Equatable {
    public static let defaultSize = 400
    public static let maximumSize = 1_000_000

    /// The payload field whose array is split.
    public var itemsField: String
    /// Items per child.
    public var size: Int
    /// The children's type; the parent's own type when nil.
    public var childType: String?
    public var onChildFailure: ChildFailurePolicy

    public init(
        itemsField: String, size: Int = defaultSize, childType: String? = nil,
        onChildFailure: ChildFailurePolicy = .complete
    ) {
        self.itemsField = itemsField
        self.size = size
        self.childType = childType
        self.onChildFailure = onChildFailure
    }

    /// Reads and checks a record's `batch` section against its payload; the message names the field.
    init(parsing value: JSONValue, payload: JSONValue?) throws(BatchSpecificationError) {
        guard let object = value.objectValue else {
            throw BatchSpecificationError("\"batch\" must be an object, not \(value.kindName)")
        }
        for key in object.keys where !["items", "size", "childType", "onChildFailure"].contains(key) {
            throw BatchSpecificationError(
                "unknown key \"batch.\(key)\" (known: items, size, childType, onChildFailure)")
        }
        guard let field = object["items"]?.stringValue, !field.isEmpty else {
            throw BatchSpecificationError("\"batch.items\" must name the payload field that holds the list")
        }
        guard let list = payload?.objectValue?[field] else {
            throw BatchSpecificationError("\"batch.items\" names \"payload.\(field)\", which is missing")
        }
        guard list.arrayValue != nil else {
            throw BatchSpecificationError("\"payload.\(field)\" must be an array to split, not \(list.kindName)")
        }
        itemsField = field
        size = Self.defaultSize
        if let sizeValue = object["size"] {
            guard let number = sizeValue.intValue, (1...Self.maximumSize).contains(number) else {
                throw BatchSpecificationError("\"batch.size\" must be an integer from 1 to \(Self.maximumSize)")
            }
            size = number
        }
        if let typeValue = object["childType"] {
            guard let type = typeValue.stringValue, !type.isEmpty, type.utf8.count <= 128 else {
                throw BatchSpecificationError("\"batch.childType\" must be a type name of 1 to 128 characters")
            }
            childType = type
        }
        onChildFailure = .complete
        if let policyValue = object["onChildFailure"] {
            guard let name = policyValue.stringValue, let policy = ChildFailurePolicy(rawValue: name) else {
                let names = ChildFailurePolicy.allCases.map(\.rawValue).joined(separator: ", ")
                throw BatchSpecificationError("\"batch.onChildFailure\" must be one of \(names)")
            }
            onChildFailure = policy
        }
    }

    var jsonValue: JSONValue {
        var object = JSONObject([("items", .string(itemsField)), ("size", JSONValue(size))])
        if let childType { object["childType"] = .string(childType) }
        if onChildFailure != .complete { object["onChildFailure"] = .string(onChildFailure.rawValue) }
        return .object(object)
    }
}

/// A `batch` section that cannot be used, with a message naming the field.
public struct BatchSpecificationError: Error, Sendable {
    public let message: String
    init(_ message: String) { self.message = message }
}

extension JobRecord {
    /// The record's `batch` section, when it is a parent (validated when the record was parsed).
    public var batch: BatchSpecification? {
        fields["batch"].flatMap { try? BatchSpecification(parsing: $0, payload: fields["payload"]) }
    }

    /// Whether this record is a parent job: it carries a `batch` section.
    public var isParent: Bool { fields["batch"] != nil }

    /// The type of the handler that runs this job: a parent's children's type, else its own.
    public var handlerType: String { batch?.childType ?? type }

    /// The id of the parent that split this child, if it is a child.
    public var parentJobID: String? { fields["parentJobId"]?.stringValue }

    /// How many children the parent was split into (set when the split is published).
    public var childCount: Int? { fields["childCount"]?.intValue }
}
