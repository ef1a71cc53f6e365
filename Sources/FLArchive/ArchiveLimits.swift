/// How much an archive may hold before extraction refuses it. Checked against each entry's
/// declared size before any of its bytes are written; the defaults suit workspaces (a plan,
/// some code, no data).
public struct ArchiveLimits: Sendable, Hashable {
    /// Sum of all regular files' sizes (hard links not counted again). Default 1 GiB.
    public var maximumTotalSize: Int64
    /// Entries of any kind. Default 100 000.
    public var maximumEntryCount: Int
    /// One regular file's size. Default 256 MiB.
    public var maximumFileSize: Int64
    /// One PAX extended header or GNU long name. Default 1 MiB.
    public var maximumMetadataSize: Int

    public init(maximumTotalSize: Int64 = 1 << 30, maximumEntryCount: Int = 100_000,
                maximumFileSize: Int64 = 256 << 20, maximumMetadataSize: Int = TarReader.defaultMaximumMetadataSize) {
        self.maximumTotalSize = maximumTotalSize
        self.maximumEntryCount = maximumEntryCount
        self.maximumFileSize = maximumFileSize
        self.maximumMetadataSize = maximumMetadataSize
    }
}
