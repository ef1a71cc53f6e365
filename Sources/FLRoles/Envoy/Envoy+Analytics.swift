import Foundation
import Synchronization
import FLCore
import FLTraining
import FLWire
import FLPKI

// Federated analytics at a site: a query comes as the answer to a request for work; the Envoy runs
// it on its shard (no collaborator: the query is data, never code), withholds what its
// `analytics.min_count` says to, writes the query and its answer to the audit log, and sends it.
extension Envoy {
    /// The largest answer sent: under the Director's 16 MiB limit on control messages, with room
    /// for the combined result (two numbers a bin where an answer has one) in one message too.
    static let maximumAnswerBytes = 7 << 20

    /// Answers `task`. Connection failures are thrown (the caller reconnects); a Director that
    /// refuses the answer is logged.
    func answer(_ task: AnalyticsTask, _ client: FrameClient) throws {
        let current = settings
        var answer: AnalyticsAnswer
        do {
            let dataset = try Self.shard(at: current.shardPath, labelColumn: current.shard.labelColumn)
            let cells = try ShardAnalytics.evaluate(task.query, on: dataset, labelColumn: current.shard.labelColumn,
                                                    minimumCount: current.analyticsMinimumCount)
            answer = AnalyticsAnswer(id: task.id, cells: cells)
            let size = Self.encodedSizeBound(cells)
            if size > Self.maximumAnswerBytes {
                answer = AnalyticsAnswer(id: task.id, refusal: "the answer would take up to \(size) bytes; a site sends at most \(Self.maximumAnswerBytes) (ask for fewer columns, bins or groups)")
            }
        } catch let error as AnalyticsQueryError {
            answer = AnalyticsAnswer(id: task.id, refusal: error.description)
        } catch {
            answer = AnalyticsAnswer(id: task.id, refusal: "this site cannot read its shard: \(error)")
        }
        recordAnalytics(task, answer)
        do {
            try client.call(answer, timeout: current.idleTimeout)
        } catch let error as ErrorReply {
            logger.warning("the Director did not take the answer to analytics query \(task.id): \(error.message)")
        }
    }

    /// The shard read last, per path, with the file's size and modification time: read again only
    /// when the file changes, so a burst of queries does not parse the same CSV each time.
    private static let shards = Mutex<[String: (stamp: [Int], dataset: Dataset)]>([:])

    static func shard(at path: String, labelColumn: String) throws -> Dataset {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.intValue ?? -1
        let modified = (attributes?[.modificationDate] as? Date).map { Int($0.timeIntervalSince1970 * 1e9) } ?? -1
        let stamp = [size, modified, labelColumn.hashValue]
        if let kept = shards.withLock({ $0[path] }), kept.stamp == stamp, size >= 0 { return kept.dataset }
        let dataset = try CSVDataset.load(path: path, labelColumn: labelColumn)
        shards.withLock { $0[path] = (stamp, dataset) }
        return dataset
    }

    /// At least the bytes `cells` take on the wire (generous per field), without encoding them.
    static func encodedSizeBound(_ cells: [ColumnSummary]) -> Int {
        cells.reduce(0) { total, c in
            total + 96 + c.column.utf8.count + c.suppressed.utf8.count + 8 * (c.histogram.count + c.suppressedBins.count)
                + 12 * (c.sketch?.bucketCount ?? 0)
        }
    }

    private func recordAnalytics(_ task: AnalyticsTask, _ answer: AnalyticsAnswer) {
        let withheld = answer.cells.flatMap { cell -> [String] in
            let name = "\(cell.column)\(cell.label.map { " label \($0)" } ?? "")"
            if !cell.suppressed.isEmpty { return ["\(name): \(cell.suppressed)"] }
            return cell.suppressedBins.isEmpty ? [] : ["\(name): histogram bins \(cell.suppressedBins.map(String.init).joined(separator: ", "))"]
        }
        let digest = SHA256.hexDigest(of: (try? JSONCoding.encoder().encode(task.query)) ?? Data())
        let record: AuditRecord
        if answer.refusal.isEmpty {
            logger.info("answered analytics query \(task.id): \(answer.cells.count) cells, \(withheld.count) withheld in part or whole")
            record = AuditRecord(experiment: "analytics:\(task.id)", sha256: digest, decision: .answered,
                                 reason: "\(answer.cells.count) cells, min_count \(settings.analyticsMinimumCount)", query: task.query, withheld: withheld)
        } else {
            logger.warning("refused analytics query \(task.id): \(answer.refusal)")
            record = AuditRecord(experiment: "analytics:\(task.id)", sha256: digest, decision: .refused, reason: answer.refusal, query: task.query)
        }
        do { try audit.append(record) } catch { logger.error("cannot write the audit log \(audit.path): \(error)") }
    }
}
