/// A value whose fields have limits beyond their types (counts in range, waits finite, shapes
/// sensible), checked by `WireDecoder` as soon as the value is read, so a message that breaks them
/// is refused as malformed with the field named.
protocol WireChecked {
    func check() throws(WireFieldError)
}

/// A field of a decoded value outside its limits; `WireDecoder` makes it a `WireDecodingError`
/// naming the message and the field's whole path.
struct WireFieldError: Error {
    var field: String
    var reason: String

    /// Refuses `field` unless `condition` holds.
    static func require(_ condition: Bool, _ field: String, _ reason: @autoclosure () -> String) throws(WireFieldError) {
        guard condition else { throw WireFieldError(field: field, reason: reason()) }
    }

    /// A non-negative integer no larger than `limit`.
    static func count(_ value: Int, _ field: String, limit: Int = Int.max) throws(WireFieldError) {
        try require((0...limit).contains(value), field, "\(value) is outside 0...\(limit)")
    }

    /// A round number (rounds are counted up to a million).
    static func round(_ value: Int, _ field: String) throws(WireFieldError) { try count(value, field, limit: 1_000_000) }

    /// How long a long-poll may be held: finite and not negative.
    static func wait(_ seconds: Double, _ field: String) throws(WireFieldError) {
        try require(seconds.isFinite && seconds >= 0, field, "is \(seconds)")
    }

    /// A sample or target shape: 1 to 8 positive dimensions.
    static func shape(_ dims: [Int], _ field: String) throws(WireFieldError) {
        for dim in dims { try count(dim, field, limit: 1 << 40) }
        try require((1...8).contains(dims.count) && dims.allSatisfy { $0 > 0 }, field,
                    "\(ShardDescriptor.text(dims)) is not 1 to 8 positive dimensions")
    }
}
