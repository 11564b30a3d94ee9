@testable import TandemCore

extension FailoverCluster {
    /// Sends unless the link is cut or the message is lost; a site's messages to itself are
    /// delivered in the same step.
    func send(from: SiteID, to: SiteID, tenant: String, _ payload: Payload) {
        var deliverAt = realTime
        if from != to {
            guard !cuts.contains([from, to].sorted()), !rng.chance(lossRate) else { return }
            deliverAt += Int64.random(in: delay, using: &rng)
            if rng.chance(longDelayRate) { deliverAt += Int64.random(in: 500_000_000...3_000_000_000, using: &rng) }
        }
        enqueue(Envelope(deliverAt: deliverAt, order: 0, from: from, to: to, tenant: tenant, payload: payload))
    }

    func deliverDue() {
        while let index = nextDue() {
            let envelope = take(at: index)
            guard site(envelope.to).up else { continue }
            receive(envelope)
        }
    }

    private func receive(_ envelope: Envelope) {
        let site = site(envelope.to)
        let tenant = envelope.tenant
        let now = site.now
        site.grantors[tenant]!.heardFrom(envelope.from, now: now)
        switch envelope.payload {
        case .request(let request):
            let reply = site.grantors[tenant]!.request(request, now: now)
            if request.holder != site.id {
                watcherHeard(site, tenant: tenant, from: request.holder, epoch: request.epoch, now: now)
            }
            send(from: site.id, to: envelope.from, tenant: tenant, .reply(reply))
        case .reply(let reply):
            guard var holder = site.holders[tenant] else { return }
            let actions: [LeaseHolderAction]
            switch reply {
            case .granted(let grant): actions = holder.grantReceived(grant, now: now)
            case .refused(let refused): actions = holder.refusalReceived(refused, now: now)
            }
            site.holders[tenant] = holder
            perform(actions, tenant: tenant, at: site)
        case .heartbeat(let epoch, let active):
            guard active else { return }
            watcherHeard(site, tenant: tenant, from: envelope.from, epoch: epoch, now: now)
        case .witnessQuery:
            let verdict = site.grantors[tenant]!.takeoverVerdict(requester: envelope.from, now: now)
            send(from: site.id, to: envelope.from, tenant: tenant, .verdict(verdict))
        case .verdict(let verdict):
            guard var watcher = site.watchers[tenant] else { return }
            let action = watcher.witnessAnswered(verdict, now: now)
            site.watchers[tenant] = watcher
            perform(action, tenant: tenant, at: site)
        case .release(let release):
            _ = site.grantors[tenant]!.release(release, now: now)
        case .handoverOffer(let release):
            guard var watcher = site.watchers[tenant], let action = try? watcher.handoverOffered(release, now: now) else { return }
            site.watchers[tenant] = watcher
            perform(action, tenant: tenant, at: site)
        }
    }

    private func watcherHeard(_ site: Site, tenant: String, from: SiteID, epoch: Epoch, now: MonotonicInstant) {
        guard var watcher = site.watchers[tenant] else { return }
        let action = watcher.heartbeat(from: from, epoch: epoch, active: true, now: now)
        site.watchers[tenant] = watcher
        perform(action, tenant: tenant, at: site)
    }

    func tick(_ site: Site) {
        let now = site.now
        let heartbeatDue = now >= site.nextHeartbeat
        if heartbeatDue { site.nextHeartbeat = now + settings.interval }
        for tenant in homes.keys.sorted() {
            if var holder = site.holders[tenant] {
                let actions = holder.tick(now: now)
                site.holders[tenant] = holder
                perform(actions, tenant: tenant, at: site)
            }
            if var watcher = site.watchers[tenant] {
                let action = watcher.tick(now: now)
                site.watchers[tenant] = watcher
                perform(action, tenant: tenant, at: site)
                if heartbeatDue, let watcher = site.watchers[tenant] {
                    for peer in voters where peer != site.id {
                        send(from: site.id, to: peer, tenant: tenant, .heartbeat(epoch: watcher.epoch, active: false))
                    }
                }
            }
        }
    }

    func perform(_ actions: [LeaseHolderAction], tenant: String, at site: Site) {
        for action in actions {
            switch action {
            case .sendRequests(let request):
                // The renewal doubles as the tenant's heartbeat.
                for voter in voters.sorted() {
                    send(from: site.id, to: voter, tenant: tenant, .request(request))
                    if voter != site.id {
                        send(from: site.id, to: voter, tenant: tenant, .heartbeat(epoch: request.epoch, active: true))
                    }
                }
            case .startWriting:
                if !site.writing.insert(tenant).inserted { flag("\(site.id) told to start writing \(tenant) twice") }
            case .stopWriting:
                if site.writing.remove(tenant) == nil { flag("\(site.id) told to stop writing \(tenant) while stopped") }
            case .fenced(let epoch, let owner):
                if site.writing.contains(tenant) { flag("\(site.id) fenced while still writing \(tenant)") }
                site.holders[tenant] = nil
                site.watchers[tenant] = FailoverMachine(site: site.id, activeSite: owner, epoch: epoch,
                                                        settings: settings, now: site.now)
            case .release(let release):
                if site.writing.contains(tenant) { flag("\(site.id) released while still writing \(tenant)") }
                for voter in voters.sorted() { send(from: site.id, to: voter, tenant: tenant, .release(release)) }
                send(from: site.id, to: release.successor, tenant: tenant, .handoverOffer(release))
                site.holders[tenant] = nil
                site.watchers[tenant] = FailoverMachine(site: site.id, activeSite: release.successor,
                                                        epoch: release.epoch, settings: settings, now: site.now)
            }
        }
    }

    func perform(_ action: FailoverAction, tenant: String, at site: Site) {
        switch action {
        case .consultWitness:
            send(from: site.id, to: witness, tenant: tenant, .witnessQuery)
        case .promote(let promotion):
            recordPromotion(tenant: tenant, site: site.id, promotion)
            site.watchers[tenant] = nil
            if case .forced(let report) = promotion.cause {
                startHolder(tenant: tenant, at: site.id, epoch: promotion.epoch, forced: report.reason)
            } else {
                startHolder(tenant: tenant, at: site.id, epoch: promotion.epoch, forced: nil)
            }
        case .none, .holdOff, .divergenceDetected:
            break
        }
    }

    func startHolder(tenant: String, at id: SiteID, epoch: Epoch, forced: OperatorReason?) {
        let site = site(id)
        var holder = LeaseHolderMachine(site: id, voters: voters, settings: settings, epoch: epoch,
                                        incarnation: nextIncarnation())
        let actions = forced.map { holder.startForced(reason: $0, now: site.now) } ?? holder.start(now: site.now)
        site.holders[tenant] = holder
        perform(actions, tenant: tenant, at: site)
    }
}
