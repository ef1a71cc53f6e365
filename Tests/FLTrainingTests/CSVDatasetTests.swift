import FLTraining
import Foundation
import Testing
import FLTesting

@Suite struct CSVDatasetTests {
    func error(_ text: String, classCount: Int? = nil) -> CSVDatasetError? {
        do {
            _ = try CSVDataset.parse(text, source: "t.csv", classCount: classCount)
            return nil
        } catch let e as CSVDatasetError {
            return e
        } catch {
            Issue.record("unexpected error type: \(error)")
            return nil
        }
    }

    @Test func parsesFeaturesAndLabelsWhereverTheLabelColumnIs() throws {
        // A byte-order mark, CRLF line ends, a quoted header with a comma, spaces, blank lines, "2.0" as a label.
        let text = "\u{FEFF}x1, label ,\"x,2\"\r\n1.5, 0 ,-2\r\n\r\n 3 ,2.0,4e1\r\n  \n"
        let data = try CSVDataset.parse(text, labelColumn: "label")
        #expect(data.featureNames == ["x1", "x,2"])
        #expect(data.features == [1.5, -2, 3, 40])
        #expect(data.labels == [0, 2])
        #expect(data.classCount == 3)
        #expect(data.count == 2 && data.featureCount == 2)
    }

    @Test func anotherLabelColumnAndAnExplicitClassCount() throws {
        let data = try CSVDataset.parse("y,a\n1,0.5\n1,0.25\n", labelColumn: "y", classCount: 4)
        #expect(data.featureNames == ["a"])
        #expect(data.labels == [1, 1])
        #expect(data.classCount == 4)
        #expect(data.classCounts == [0, 2, 0, 0])
    }

    @Test func wrongColumnCountNamesTheLine() {
        let e = error("a,b,label\n1,2,0\n\n1,2\n")
        #expect(e?.line == 4)
        #expect(e?.column == nil)
        #expect(e?.problem == .wrongColumnCount(expected: 3, found: 2))
        #expect(e?.description == "t.csv:4: expected 3 columns, found 2")
    }

    @Test func notANumberNamesLineColumnAndField() {
        let e = error("a,b,label\n1,2,0\n10,  x y ,1\n")
        #expect(e?.line == 3)
        #expect(e?.column == 6)
        #expect(e?.problem == .notANumber(column: "b", text: "x y"))
        #expect(e?.description == "t.csv:3:6: column \"b\": \"x y\" is not a number")
        #expect(error("a,label\n,0\n")?.problem == .notANumber(column: "a", text: ""))
        #expect(error("a,label\nnan,0\n")?.problem == .notANumber(column: "a", text: "nan"))
        #expect(error("a,label\n1e999,0\n")?.problem == .notANumber(column: "a", text: "1e999"))
    }

    @Test func labelsMustBeNonNegativeIntegers() {
        let e = error("a,label\n1,0\n2,1.5\n")
        #expect(e?.line == 3)
        #expect(e?.column == 3)
        #expect(e?.problem == .invalidLabel(column: "label", text: "1.5"))
        #expect(e?.description == "t.csv:3:3: column \"label\": label \"1.5\" is not a class index (a non-negative integer)")
        #expect(error("a,label\n1,-1\n")?.problem == .invalidLabel(column: "label", text: "-1"))
        #expect(error("a,label\n1,cat\n")?.problem == .invalidLabel(column: "label", text: "cat"))
    }

    @Test func labelsMustFitTheClassCount() {
        let e = error("a,label\n1,0\n2,1\n3,2\n", classCount: 2)
        #expect(e?.line == 4)
        #expect(e?.column == 3)
        #expect(e?.problem == .labelOutOfRange(label: 2, classCount: 2))
    }

    @Test func emptyFilesAndHeaderOnlyFiles() {
        #expect(error("")?.problem == .emptyFile)
        #expect(error("\n  \n")?.problem == .emptyFile)
        #expect(error("")?.description == "t.csv: empty file: expected a header row naming the columns")
        #expect(error("a,label\n")?.problem == .noRows)
    }

    @Test func headerProblems() {
        let missing = error("a,b\n1,2\n")
        #expect(missing?.line == 1)
        #expect(missing?.problem == .missingLabelColumn(name: "label", columns: ["a", "b"]))
        #expect(missing?.description == "t.csv:1: no label column \"label\" in the header (columns: a, b)")
        #expect(error("a,a,label\n1,2,0\n")?.problem == .duplicateColumn(name: "a", position: 2))
        let quote = error("a,\"label\n1,0\n")
        #expect(quote?.problem == .unterminatedQuote)
        #expect(quote?.line == 1 && quote?.column == 3)
    }

    @Test func loadsFromAFileAndReportsUnreadableOnes() throws {
        let dir = try TemporaryDirectory(prefix: "fltraining")
        defer { dir.remove() }
        let path = try dir.write("d.csv", "f,label\n0.5,1\n-1,0\n")
        let data = try CSVDataset.load(path: path)
        #expect(data.features == [0.5, -1])
        #expect(data.labels == [1, 0])

        let bad = try dir.write("bad.csv", "f,label\n0.5,1\nzz,0\n")
        #expect(throws: CSVDatasetError.self) { try CSVDataset.load(path: bad) }
        do {
            _ = try CSVDataset.load(path: bad)
        } catch let e as CSVDatasetError {
            #expect(e.description == "\(bad):3:1: column \"f\": \"zz\" is not a number")
        }
        do {
            _ = try CSVDataset.load(path: dir.appending("missing.csv"))
            Issue.record("loading a missing file succeeded")
        } catch let e as CSVDatasetError {
            guard case .unreadable = e.problem else { Issue.record("unexpected problem \(e.problem)"); return }
            #expect(e.description.contains("missing.csv: cannot read:"))
        }
    }

    @Test func shippedDatasetsLoad() {
        let bc = ShippedData.breastCancer, digits = ShippedData.digits
        #expect(bc.count == 569 && bc.featureCount == 30 && bc.classCounts == [212, 357])
        #expect(digits.count == 1797 && digits.featureCount == 64 && digits.classCount == 10)
        #expect(digits.features.allSatisfy { $0 >= 0 && $0 <= 16 })
    }
}

@Suite struct CSVFeatureTableTests {
    @Test func theLabelColumnMayBeAbsentOrHoldAnything() throws {
        let without = try CSVDataset.parseFeatures(Array("a,b\n1,2\n\n3,4\n".utf8))
        #expect(without == FeatureTable(features: [1, 2, 3, 4], featureNames: ["a", "b"], hasLabelColumn: false))
        #expect(without.count == 2)
        let with = try CSVDataset.parseFeatures(Array("a,y,b\n1,?,2\n3,\"x\",4\n".utf8), labelColumn: "y")
        #expect(with == FeatureTable(features: [1, 2, 3, 4], featureNames: ["a", "b"], hasLabelColumn: true))
    }

    @Test func featureProblemsAreNamedAsForADataset() {
        func error(_ text: String) -> CSVDatasetError? {
            #expect(throws: CSVDatasetError.self) { try CSVDataset.parseFeatures(Array(text.utf8), source: "p.csv") }
        }
        let nan = error("a,b\n1,2\n3,x\n")
        #expect(nan?.line == 3 && nan?.column == 3 && nan?.problem == .notANumber(column: "b", text: "x"))
        #expect(error("a,b\n1,2,3\n")?.problem == .wrongColumnCount(expected: 2, found: 3))
        #expect(error("a,b\n")?.problem == .noRows)
        #expect(error("a,b\n1,2,3\n").map { "\($0)" } == "p.csv:2: expected 2 columns, found 3")
    }
}
