extension NBDServerMachine {
    /// One request in the transmission phase.
    mutating func transmit(_ type: UInt16, _ request: Request) -> [Action] {
        guard let command = NBDProtocol.Command(rawValue: type) else {
            return [.send(errorReply(request, error: NBDProtocol.errorInvalid, message: "command \(type) is not supported"))]
        }
        switch command {
        case .read:
            if let problem = rangeProblem(request) {
                return [.send(errorReply(request, error: NBDProtocol.errorInvalid, message: problem))]
            }
            return [.read(request)]
        case .blockStatus:
            guard allocationSelected else {
                return [.send(errorReply(request, error: NBDProtocol.errorInvalid, message: "no metadata context was selected"))]
            }
            // The length is a hint: the reply may cover less (or, for the last extent, more).
            guard request.length > 0, request.offset < export.size else {
                return [.send(errorReply(request, error: NBDProtocol.errorInvalid,
                                         message: "a block status of \(request.length) bytes at \(request.offset) (the export has \(export.size))"))]
            }
            return [.blockStatus(request)]
        case .write:
            skipping = Int(request.length)
            return [.send(errorReply(request, error: NBDProtocol.errorPermission, message: "the export is read-only"))]
        case .trim, .writeZeroes:
            return [.send(errorReply(request, error: NBDProtocol.errorPermission, message: "the export is read-only"))]
        case .flush, .cache:
            return [.send(successReply(request))]
        case .disconnect:
            phase = .closed
            return [.close("the client disconnected")]
        }
    }

    /// Why a read of `request` cannot be served, or nil.
    private func rangeProblem(_ request: Request) -> String? {
        if request.length > maximumRequest { return "a request of \(request.length) bytes (at most \(maximumRequest))" }
        let (end, overflow) = request.offset.addingReportingOverflow(UInt64(request.length))
        if overflow || end > export.size { return "bytes \(request.offset)+\(request.length) lie past the end (\(export.size))" }
        return nil
    }

    /// The header of a successful read's reply; the `length` bytes read follow it.
    public func readReplyHeader(_ request: Request) -> [UInt8] {
        var out = NBDWriter(capacity: 28)
        if structuredReplies {
            out.u32(NBDProtocol.structuredReplyMagic)
            out.u16(NBDProtocol.replyFlagDone)
            out.u16(NBDProtocol.replyTypeOffsetData)
            out.u64(request.cookie)
            out.u32(8 + request.length)
            out.u64(request.offset)
        } else {
            out.u32(NBDProtocol.simpleReplyMagic)
            out.u32(0)
            out.u64(request.cookie)
        }
        return out.bytes
    }

    /// A failed request's reply: structured (with the message) when negotiated, else simple.
    public func errorReply(_ request: Request, error: UInt32, message: String) -> [UInt8] {
        var out = NBDWriter(capacity: 32 + message.utf8.count)
        if structuredReplies {
            let text = Array(message.utf8.prefix(4096))
            out.u32(NBDProtocol.structuredReplyMagic)
            out.u16(NBDProtocol.replyFlagDone)
            out.u16(NBDProtocol.replyTypeError)
            out.u64(request.cookie)
            out.u32(UInt32(6 + text.count))
            out.u32(error)
            out.u16(UInt16(text.count))
            out.append(text)
        } else {
            out.u32(NBDProtocol.simpleReplyMagic)
            out.u32(error)
            out.u64(request.cookie)
        }
        return out.bytes
    }

    func successReply(_ request: Request) -> [UInt8] {
        var out = NBDWriter(capacity: 16)
        out.u32(NBDProtocol.simpleReplyMagic)
        out.u32(0)
        out.u64(request.cookie)
        return out.bytes
    }

    /// The reply to a block status request: `extents` (length, `base:allocation` flags) from
    /// its offset on; with `NBD_CMD_FLAG_REQ_ONE`, only the first, clipped to the request.
    public func blockStatusReply(_ request: Request, extents: [(length: UInt32, flags: UInt32)]) -> [UInt8] {
        var chosen = extents.filter { $0.length > 0 }
        if request.flags & NBDProtocol.commandFlagReqOne != 0, let first = chosen.first {
            chosen = [(min(first.length, request.length), first.flags)]
        }
        var out = NBDWriter(capacity: 24 + 8 * chosen.count)
        out.u32(NBDProtocol.structuredReplyMagic)
        out.u16(NBDProtocol.replyFlagDone)
        out.u16(NBDProtocol.replyTypeBlockStatus)
        out.u64(request.cookie)
        out.u32(UInt32(4 + 8 * chosen.count))
        out.u32(NBDProtocol.allocationContextID)
        for extent in chosen {
            out.u32(extent.length)
            out.u32(extent.flags)
        }
        return out.bytes
    }
}
