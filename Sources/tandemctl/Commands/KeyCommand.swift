import ArgumentParser
import Foundation
import TandemCore
import TandemStore

/// `tandemctl key add|list|remove`: key slots. The data is never re-encrypted.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Manage a tenant's key slots.", subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a key slot for a new passphrase (TANDEM_NEW_PASSPHRASE) or key file (--new-key-file).")

        @OptionGroup var repository: RepositoryOptions
        @OptionGroup var tenant: TenantOptions
        @Option(name: .customLong("new-key-file"), help: ArgumentHelp("Key file for the new slot (at least 32 bytes).", valueName: "FILE"))
        var newKeyFile: String?
        @Option(help: "A note stored with the slot.") var comment: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            try await Failure.guarded {
                let repo = try await tenant.open(repository)
                let slot = try await repo.addKeySlot(try Secrets.read(keyFile: newKeyFile, variable: "TANDEM_NEW_PASSPHRASE"),
                                                     comment: comment, now: Date())
                if json { try JSONOutput.print(KeyCommand.summary(slot)) } else { print("added key slot \(slot.id) (\(slot.kind.rawValue))") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List key slots.")

        @OptionGroup var repository: RepositoryOptions
        @OptionGroup var tenant: TenantOptions
        @Flag(help: "Print the result as JSON.") var json = false

        func run() async throws {
            try await Failure.guarded {
                let slots = try await tenant.open(repository).keySlots()
                if json {
                    try JSONOutput.print(slots.map(KeyCommand.summary))
                } else {
                    let formatter = ISO8601DateFormatter()
                    for slot in slots {
                        print("\(slot.id)  \(slot.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0))  \(formatter.string(from: slot.createdAt))  \(slot.comment ?? "")")
                    }
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a key slot (never the last one).")

        @OptionGroup var repository: RepositoryOptions
        @OptionGroup var tenant: TenantOptions
        @Option(help: "The slot's ID, from 'key list'.") var slot: String

        func run() async throws {
            try await Failure.guarded {
                try await tenant.open(repository).removeKeySlot(slot)
                print("removed key slot \(slot)")
            }
        }
    }

    /// What is shown of a slot: never the wrapped key or salt.
    struct Summary: Encodable {
        let id: String
        let kind: String
        let createdAt: Date
        let comment: String?
    }

    static func summary(_ slot: KeySlot) -> Summary {
        Summary(id: slot.id, kind: slot.kind.rawValue, createdAt: slot.createdAt, comment: slot.comment)
    }
}
