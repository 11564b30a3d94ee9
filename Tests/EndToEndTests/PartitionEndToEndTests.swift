import Foundation
import Testing
import TandemSiteLab
import TandemTestSupport

extension SiteProcessTests {
    /// The home site is cut off from its twin and the witness (every link to and from it runs
    /// through a proxy that the test partitions) while both near sites keep trying to back the
    /// tenant up. The home stops acknowledging once its lease runs out; the twin takes over only
    /// after that; a checker over every acknowledged snapshot in both sites' audit logs (time,
    /// site, epoch) finds no two sites writing under one epoch and no write of an older epoch after
    /// a newer one: 0 overlaps.
    @Suite(.serialized) struct PartitionEndToEndTests {
        /// Runs tandemctl without blocking a thread of the cooperative pool (the proxies need it).
        static func run(_ arguments: [String], socket: String) async -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLIRunner.binary)
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["TANDEM_SOCKET"] = socket
            process.environment = environment
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = errors
            return await withCheckedContinuation { continuation in
                process.terminationHandler = { finished in
                    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                    continuation.resume(returning: (finished.terminationStatus, text))
                }
                do { try process.run() } catch { continuation.resume(returning: (-1, "\(error)")) }
            }
        }

        static func status(_ daemon: DaemonProcess) async -> [String: Any] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLIRunner.binary)
            process.arguments = ["status", "--json"]
            var environment = ProcessInfo.processInfo.environment
            environment["TANDEM_SOCKET"] = daemon.socket
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            let data: Data = await withCheckedContinuation { continuation in
                process.terminationHandler = { _ in continuation.resume(returning: output.fileHandleForReading.readDataToEndOfFile()) }
                do { try process.run() } catch { continuation.resume(returning: Data()) }
            }
            let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            return (document?["tenants"] as? [[String: Any]])?.first ?? [:]
        }

        static func wait(_ what: String, timeout: Double = 30, _ condition: () async -> Bool) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if await condition() { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw DaemonFailure(description: "timed out waiting for \(what)")
        }

        /// One acknowledged snapshot as the audit log recorded it.
        struct Commit {
            let time: Int64
            let site: String
            let epoch: Int
        }

        static func commits(in daemon: DaemonProcess) throws -> [Commit] {
            let text = try String(contentsOfFile: daemon.root + "/state/audit.log", encoding: .utf8)
            return text.split(separator: "\n").compactMap { line in
                guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      record["action"] as? String == "commit", let detail = record["detail"] as? String,
                      let time = (record["time_ms"] as? Int64) ?? (record["time_milliseconds"] as? Int64) ?? (record["time"] as? Int64)
                else { return nil }
                var fields: [String: String] = [:]
                for part in detail.split(separator: " ") {
                    let pair = part.split(separator: "=", maxSplits: 1)
                    if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
                }
                guard let site = fields["site"], let epoch = fields["epoch"].flatMap(Int.init) else { return nil }
                return Commit(time: time, site: site, epoch: epoch)
            }
        }

        @Test func aPartitionedHomeSiteStopsWritingBeforeTheTwinStarts() async throws {
            let certs = NSTemporaryDirectory() + "tandem-partition-certs-" + UUID().uuidString.prefix(8).lowercased()
            defer { try? FileManager.default.removeItem(atPath: certs) }
            #expect(try CLIRunner(repo: "").run(["certs", "init", "--dir", certs, "--site", "home-a", "--site", "home-b", "--site", "remote"]).status == 0)
            var ports: [String: Int] = [:]
            for site in ["home-a", "home-b", "remote"] { ports[site] = try TwinEndToEndTests.freePort() }
            // Every link that touches home-a goes through a proxy.
            let toB = WANProxy(upstreamPort: ports["home-b"]!), toRemote = WANProxy(upstreamPort: ports["remote"]!)
            let bToA = WANProxy(upstreamPort: ports["home-a"]!), remoteToA = WANProxy(upstreamPort: ports["home-a"]!)
            let proxies = [toB, toRemote, bToA, remoteToA]
            var via: [ObjectIdentifier: Int] = [:]
            for proxy in proxies { via[ObjectIdentifier(proxy)] = try await proxy.start() }
            let heartbeat = FailoverEndToEndTests.heartbeat
            func near(_ name: String, twinPort: Int, remotePort: Int) -> String {
                """
                role: near
                listen: 127.0.0.1:\(ports[name]!)
                tls: {ca: \(certs)/ca.pem, certificate: \(certs)/\(name).pem, key: \(certs)/\(name).key}
                peers:
                  - {name: \(name == "home-a" ? "home-b" : "home-a"), role: twin, address: 127.0.0.1:\(twinPort)}
                  - {name: remote, role: remote, address: 127.0.0.1:\(remotePort)}
                \(heartbeat)
                """
            }
            let policy = "tenant: alpha\nkey: {key_file: $KEY}\nhome_site: home-a\nsources:\n  - {name: docs, directory: $ROOT/data/docs}\n"
            let files: [String: Data] = ["docs/a.txt": Data("partition\n".utf8), "docs/b.bin": sampleBytes(200_000, seed: 41)]
            let remote = try DaemonProcess(policies: ["alpha": "tenant: alpha\n"], site: "remote", extraSite: """
                role: remote
                listen: 127.0.0.1:\(ports["remote"]!)
                tls: {ca: \(certs)/ca.pem, certificate: \(certs)/remote.pem, key: \(certs)/remote.key}
                peers:
                  - {name: home-a, role: near, address: 127.0.0.1:\(via[ObjectIdentifier(remoteToA)]!)}
                  - {name: home-b, role: near, address: 127.0.0.1:\(ports["home-b"]!)}
                \(heartbeat)
                """)
            let twin = try DaemonProcess(policies: ["alpha": policy], files: files, site: "home-b",
                                         extraSite: near("home-b", twinPort: via[ObjectIdentifier(bToA)]!, remotePort: ports["remote"]!))
            let home = try DaemonProcess(policies: ["alpha": policy], files: files, site: "home-a",
                                         extraSite: near("home-a", twinPort: via[ObjectIdentifier(toB)]!, remotePort: via[ObjectIdentifier(toRemote)]!))
            // Setup, not the property under test. The home and the witness start first and the
            // twin only once the home holds the lease (the home's own grant and the witness's are a
            // majority): started together, a home slowed by the whole suite running beside it on
            // two cores once stayed silent past the witness's start-up grace, and the twin rightly
            // took the tenant over before the test began.
            try remote.start()
            try home.start()
            do {
                try await Self.wait("home-a to hold the lease", timeout: 90) { await Self.status(home)["lease_expires"] != nil }
                try twin.start()
                // The link, not "in_sync": a start-up connection error stays in the queue's last
                // error until the next shipment (issue 19, point 5).
                try await Self.wait("home-b's link to home-a", timeout: 90) {
                    ["in_sync", "catching_up"].contains(await Self.status(home)["twin_state"] as? String ?? "")
                }
            } catch {
                throw DaemonFailure(description: "\(error); home-a's log:\n\(home.log.suffix(3000))\nhome-b's log:\n\(twin.log.suffix(2000))")
            }

            // Both near sites back the tenant up over and over; home-a is cut off once it has
            // acknowledged a snapshot, and the attempts go on for 7 s after that.
            let stop = StopSignal()
            let homeSocket = home.socket, twinSocket = twin.socket
            async let homeAttempts: [(Int32, String)] = {
                var results: [(Int32, String)] = []
                while await !stop.passed() { results.append(await Self.run(["backup", "now", "--tenant", "alpha"], socket: homeSocket)) }
                return results
            }()
            async let twinAttempts: [(Int32, String)] = {
                var results: [(Int32, String)] = []
                while await !stop.passed() {
                    results.append(await Self.run(["backup", "now", "--tenant", "alpha"], socket: twinSocket))
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return results
            }()
            try await Self.wait("home-a to acknowledge a snapshot", timeout: 60) {
                ((try? String(contentsOfFile: home.root + "/state/audit.log", encoding: .utf8)) ?? "").contains("\"action\":\"commit\"")
            }
            for proxy in proxies { await proxy.partition() }
            await stop.set(after: 7)
            let atHome = await homeAttempts
            let atTwin = await twinAttempts
            for proxy in proxies { await proxy.heal() }

            #expect(await Self.status(twin)["active_site"] as? String == "home-b")
            #expect(atHome.contains { $0.0 == 0 }, "home-a acknowledged nothing before the partition")
            #expect(atHome.contains { $0.0 != 0 && $0.1.contains("lease") }, "home-a never refused for want of a lease")
            #expect(atTwin.contains { $0.0 == 0 }, "home-b acknowledged nothing after taking over")
            #expect(try home.stop() == 0)
            #expect(try twin.stop() == 0)
            #expect(try remote.stop() == 0)
            for proxy in proxies { await proxy.stop() }

            // The checker: every acknowledged write, in time order, with its site and epoch.
            let all = (try Self.commits(in: home) + Self.commits(in: twin)).sorted { $0.time < $1.time }
            var owner: [Int: String] = [:]
            var newest = 0
            var overlaps = 0
            for commit in all {
                if let site = owner[commit.epoch], site != commit.site { overlaps += 1 }
                owner[commit.epoch] = commit.site
                if commit.epoch < newest { overlaps += 1 }
                newest = max(newest, commit.epoch)
            }
            let lastA = all.filter { $0.site == "home-a" }.map(\.time).max() ?? 0
            let firstB = all.filter { $0.site == "home-b" }.map(\.time).min() ?? 0
            report("partition: \(all.count) acknowledged writes (home-a \(all.filter { $0.site == "home-a" }.count), home-b \(all.filter { $0.site == "home-b" }.count)), \(overlaps) overlaps, gap between the last write at home-a and the first at home-b \(firstB - lastA) ms")
            #expect(overlaps == 0)
            #expect(lastA < firstB, "home-a wrote at \(lastA) after home-b began at \(firstB)")
            #expect(Set(all.filter { $0.site == "home-a" }.map(\.epoch)) == [1] && Set(all.filter { $0.site == "home-b" }.map(\.epoch)) == [2])
        }
    }
}

/// When the partition test's backup loops stop.
actor StopSignal {
    private var deadline: Date?
    func set(after seconds: Double) { deadline = Date().addingTimeInterval(seconds) }
    func passed() -> Bool { deadline.map { Date() >= $0 } ?? false }
}
