extension NBDServerMachine {
    /// One option in the negotiation phase.
    mutating func negotiate(_ code: UInt32, _ data: ArraySlice<UInt8>) -> [Action] {
        guard let option = NBDProtocol.Option(rawValue: code) else {
            return [.send(Self.optionReply(code, .errorUnsupported, text: "option \(code) is not supported"))]
        }
        switch option {
        case .exportName:
            guard String(decoding: data, as: UTF8.self) == export.name || data.isEmpty else {
                return close("export '\(String(decoding: data, as: UTF8.self))' is not served here")
            }
            var out = NBDWriter()
            out.u64(export.size)
            out.u16(Self.transmissionFlags)
            if !noZeroes { out.append([UInt8](repeating: 0, count: 124)) }
            phase = .transmitting
            return [.send(out.bytes)]
        case .abort:
            phase = .closed
            return [.send(Self.optionReply(code, .ack)), .close("the client aborted the negotiation")]
        case .list:
            guard data.isEmpty else { return [.send(Self.optionReply(code, .errorInvalid, text: "NBD_OPT_LIST takes no data"))] }
            var entry = NBDWriter()
            entry.u32(UInt32(export.name.utf8.count))
            entry.append(export.name.utf8)
            return [.send(Self.optionReply(code, .server, data: entry.bytes)), .send(Self.optionReply(code, .ack))]
        case .info, .go:
            return infoOrGo(option, data)
        case .structuredReply:
            guard data.isEmpty else { return [.send(Self.optionReply(code, .errorInvalid, text: "NBD_OPT_STRUCTURED_REPLY takes no data"))] }
            structuredReplies = true
            return [.send(Self.optionReply(code, .ack))]
        case .listMetaContext, .setMetaContext:
            return metaContext(option, data)
        case .peekExport, .startTLS, .extendedHeaders:
            return [.send(Self.optionReply(code, .errorUnsupported, text: "option \(code) is not supported"))]
        }
    }

    private mutating func infoOrGo(_ option: NBDProtocol.Option, _ data: ArraySlice<UInt8>) -> [Action] {
        var reader = NBDReader(data)
        guard let nameLength = reader.u32(), Int(nameLength) <= reader.remaining, let name = reader.take(Int(nameLength)),
              let count = reader.u16(), reader.remaining == 2 * Int(count) else {
            return [.send(Self.optionReply(option.rawValue, .errorInvalid, text: "a malformed NBD_OPT_INFO/GO"))]
        }
        var asked = Set<UInt16>()
        for _ in 0..<count { asked.insert(reader.u16()!) }
        guard name.isEmpty || String(decoding: name, as: UTF8.self) == export.name else {
            return [.send(Self.optionReply(option.rawValue, .errorUnknown, text: "export '\(String(decoding: name, as: UTF8.self))' is not served here"))]
        }
        var info = NBDWriter()
        info.u16(NBDProtocol.infoExport)
        info.u64(export.size)
        info.u16(Self.transmissionFlags)
        var replies: [Action] = [.send(Self.optionReply(option.rawValue, .info, data: info.bytes))]
        var sizes = NBDWriter()
        sizes.u16(NBDProtocol.infoBlockSize)
        sizes.u32(1)
        sizes.u32(4096)
        sizes.u32(maximumRequest)
        replies.append(.send(Self.optionReply(option.rawValue, .info, data: sizes.bytes)))
        if asked.contains(NBDProtocol.infoName) {
            var named = NBDWriter()
            named.u16(NBDProtocol.infoName)
            named.append(export.name.utf8)
            replies.append(.send(Self.optionReply(option.rawValue, .info, data: named.bytes)))
        }
        if asked.contains(NBDProtocol.infoDescription) {
            var described = NBDWriter()
            described.u16(NBDProtocol.infoDescription)
            described.append(export.description.utf8.prefix(4096))
            replies.append(.send(Self.optionReply(option.rawValue, .info, data: described.bytes)))
        }
        replies.append(.send(Self.optionReply(option.rawValue, .ack)))
        if option == .go { phase = .transmitting }
        return replies
    }

    private mutating func metaContext(_ option: NBDProtocol.Option, _ data: ArraySlice<UInt8>) -> [Action] {
        let code = option.rawValue
        var reader = NBDReader(data)
        guard let nameLength = reader.u32(), Int(nameLength) <= reader.remaining, let name = reader.take(Int(nameLength)),
              let count = reader.u32() else {
            return [.send(Self.optionReply(code, .errorInvalid, text: "a malformed meta context option"))]
        }
        var queries: [String] = []
        for _ in 0..<min(count, 4096) {
            guard let length = reader.u32(), Int(length) <= reader.remaining, let query = reader.take(Int(length)) else {
                return [.send(Self.optionReply(code, .errorInvalid, text: "a malformed meta context query"))]
            }
            queries.append(String(decoding: query, as: UTF8.self))
        }
        guard reader.remaining == 0, count <= 4096 else {
            return [.send(Self.optionReply(code, .errorInvalid, text: "a malformed meta context option"))]
        }
        if option == .setMetaContext {
            allocationSelected = false
            guard structuredReplies else {
                return [.send(Self.optionReply(code, .errorInvalid, text: "NBD_OPT_SET_META_CONTEXT needs structured replies first"))]
            }
        }
        guard name.isEmpty || String(decoding: name, as: UTF8.self) == export.name else {
            return [.send(Self.optionReply(code, .errorUnknown, text: "export '\(String(decoding: name, as: UTF8.self))' is not served here"))]
        }
        let selects = option == .setMetaContext ? queries.contains(NBDProtocol.allocationContext)
            : queries.isEmpty || queries.contains { $0 == "base:" || $0 == NBDProtocol.allocationContext }
        var replies: [Action] = []
        if selects {
            var context = NBDWriter()
            context.u32(option == .setMetaContext ? NBDProtocol.allocationContextID : 0)
            context.append(NBDProtocol.allocationContext.utf8)
            replies.append(.send(Self.optionReply(code, .metaContext, data: context.bytes)))
            if option == .setMetaContext { allocationSelected = true }
        }
        replies.append(.send(Self.optionReply(code, .ack)))
        return replies
    }

    /// An option reply: magic, the option, the reply type, and its data (or an error's text).
    static func optionReply(_ option: UInt32, _ type: NBDProtocol.OptionReply, data: [UInt8] = [], text: String? = nil) -> [UInt8] {
        let payload = text.map { Array($0.utf8) } ?? data
        var out = NBDWriter(capacity: 20 + payload.count)
        out.u64(NBDProtocol.optionReplyMagic)
        out.u32(option)
        out.u32(type.rawValue)
        out.u32(UInt32(payload.count))
        out.append(payload)
        return out.bytes
    }
}
