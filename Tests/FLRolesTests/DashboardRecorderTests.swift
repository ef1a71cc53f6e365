import Testing
import FLRoles

/// The dashboard's heartbeat history: bounded per Envoy whatever the heartbeat period, oldest first.
@Suite struct DashboardRecorderTests {
    static func sample(_ time: Double) -> DashboardRecorder.Sample {
        DashboardRecorder.Sample(time: time, cpuPercent: time, residentBytes: Int(time), availableBytes: 0)
    }

    @Test func keepsOneSampleAnIntervalForAnHourOldestFirst() {
        let recorder = DashboardRecorder()
        // Two hours of heartbeats once a second.
        for t in 0..<7200 { recorder.record("a", Self.sample(Double(t))) }
        let kept = recorder.history(window: 1e9, now: 7200)["a"] ?? []
        #expect(kept.count == DashboardRecorder.samplesPerEnvoy)
        let times = kept.map(\.time)
        #expect(times == times.sorted())
        #expect(zip(times, times.dropFirst()).allSatisfy { $1 - $0 == DashboardRecorder.sampleInterval })
        // The newest kept is the last heartbeat on the interval's grid; the oldest an hour before it.
        #expect(times.last == 7190 && times.first == 7190 - DashboardRecorder.sampleInterval * Double(DashboardRecorder.samplesPerEnvoy - 1))
        #expect(recorder.history(window: 60, now: 7200)["a"]?.map(\.time) == [7140, 7150, 7160, 7170, 7180, 7190])
    }
}
