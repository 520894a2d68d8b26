import AKRPConfig
import AKRPManagement

extension RelayNode {
    /// The image group for the configuration image: state (read / write = test or confirm) and upload into
    /// the slot that is not running.
    func registerImageGroup(_ d: SMPDispatcher) {
        d.register(group: SMPGroup.image, command: 0, read: { [self] _ in imageState() }, write: { [self] r in imageStateWrite(r) })
        d.register(group: SMPGroup.image, command: 1, write: { [self] r in imageUpload(r) })
    }

    /// The physical slot this start runs from (nil: the file given on the command line).
    var runningSlot: ConfigurationSlots.Slot? {
        switch management.boot {
        case .file: nil
        case .active(let s), .trial(let s): s
        }
    }

    /// The slot uploads go to: the one not running.
    var uploadSlot: ConfigurationSlots.Slot { runningSlot?.other ?? .a }

    /// The image group's view: slot 0 is the running configuration, slot 1 the other slot.
    func imageState() -> SMPOutcome {
        guard let slots = management.slots else { return .error(.badState) }
        var images: [CBORValue] = []
        let trial: Bool = if case .trial = management.boot { true } else { false }
        let runningHash: [UInt8]
        let runningVersion: String
        if let s = runningSlot, let (_, image) = slots.configuration(s) {
            runningHash = image.hash
            runningVersion = image.versionString
        } else {
            runningHash = ConfigurationImage.sha256(ConfigurationImage.encode(configuration))
            runningVersion = "0.0.0"
        }
        images.append(
            .object([
                ("image", .unsigned(0)), ("slot", .unsigned(0)), ("version", .text(runningVersion)), ("hash", .bytes(runningHash)),
                ("bootable", .bool(true)), ("pending", .bool(false)), ("confirmed", .bool(!trial)), ("active", .bool(true)),
                ("permanent", .bool(false)),
            ]))
        let other = uploadSlot
        if let (_, image) = slots.configuration(other) {
            let pending = slots.record.pending == other
            images.append(
                .object([
                    ("image", .unsigned(0)), ("slot", .unsigned(1)), ("version", .text(image.versionString)),
                    ("hash", .bytes(image.hash)), ("bootable", .bool(true)), ("pending", .bool(pending)),
                    ("confirmed", .bool(slots.record.active == other)), ("active", .bool(false)),
                    ("permanent", .bool(pending && slots.record.permanent)),
                ]))
        }
        return .answer([("images", .array(images)), ("splitStatus", .unsigned(0))])
    }

    /// `{hash, confirm}`: confirm the running configuration (no hash, or its hash), or mark the other slot's
    /// image for test (`confirm` false) or for permanent use (`confirm` true) at the next start.
    func imageStateWrite(_ r: SMPRequest) -> SMPOutcome {
        guard let slots = management.slots else { return .error(.badState) }
        if let c = r["confirm"], c.boolValue == nil { return .error(.invalidValue) }
        if let h = r["hash"], h.bytesValue == nil { return .error(.invalidValue) }
        let confirm = r["confirm"]?.boolValue ?? false
        let hash = r["hash"]?.bytesValue ?? []
        let running = runningSlot.flatMap { slots.configuration($0)?.1.hash }
            ?? ConfigurationImage.sha256(ConfigurationImage.encode(configuration))
        if hash.isEmpty || hash == running {
            guard confirm else { return .groupError(ImageGroupError.invalidHash.rawValue) }
            if case .trial(let s) = management.boot {
                guard confirmTrial(s, how: "SMP image confirm") else { return .groupError(ImageGroupError.flashWriteFailed.rawValue) }
            }
            return imageState()
        }
        let other = uploadSlot
        guard let (_, image) = slots.configuration(other), image.hash == hash else {
            return .groupError(ImageGroupError.hashNotFound.rawValue)
        }
        if case .trial = management.boot {
            // The other slot holds the fallback while a trial runs: confirm or roll back first.
            return .groupError(ImageGroupError.confirmationDenied.rawValue)
        }
        var record = slots.record
        record.pending = other
        record.permanent = confirm
        do throws(StateStoreError) { try slots.write(record) } catch {
            logger.error("cannot mark the configuration for test", metadata: ["error": "\(error)"])
            return .groupError(ImageGroupError.flashWriteFailed.rawValue)
        }
        logger.notice("configuration marked for the next start", metadata: ["slot": "\(other.rawValue)", "permanent": "\(confirm)"])
        return imageState()
    }

    /// `{off, data, len, sha, image, upgrade}` → `{off}` (and `match` at the end when `sha` was sent).
    func imageUpload(_ r: SMPRequest) -> SMPOutcome {
        guard let slots = management.slots else { return .error(.badState) }
        guard let off = r["off"]?.unsignedValue, let data = r["data"]?.bytesValue else { return .error(.invalidValue) }
        // `image` 0 (the image pair) or 1 (its second slot, as clients that upload "to slot 1" send it): both
        // mean the slot that is not running.
        if let image = r["image"], (image.unsignedValue ?? 2) > 1 { return .groupError(ImageGroupError.invalidSlot.rawValue) }
        if let l = r["len"], l.unsignedValue == nil { return .error(.invalidValue) }
        if let s = r["sha"], s.bytesValue == nil { return .error(.invalidValue) }
        if case .trial = management.boot {
            return .groupError(ImageGroupError.confirmationDenied.rawValue)  // the other slot is the fallback
        }
        let step: ImageUpload.Step
        let before = (generation: management.upload.generation, offset: management.upload.offset)
        do throws(ImageGroupError) {
            step = try management.upload.chunk(offset: off, data: data, length: r["len"]?.unsignedValue, sha: r["sha"]?.bytesValue)
        } catch {
            management.counters.uploadsRefused += 1
            management.journal?.clear()
            return .groupError(error.rawValue)
        }
        switch step {
        case .next(let offset):
            keepUpload(since: before)
            return .answer([("off", .unsigned(UInt64(offset)))])
        case .complete(let bytes, let match):
            management.journal?.clear()
            if match == false {
                management.counters.uploadsRefused += 1
                return .answer([("off", .unsigned(UInt64(bytes.count))), ("match", .bool(false))])
            }
            if let refusal = checkUploadedImage(bytes) {
                management.counters.uploadsRefused += 1
                logger.warning("uploaded configuration refused", metadata: ["reason": "\(refusal.1)"])
                return .groupError(refusal.0.rawValue)
            }
            let slot = uploadSlot
            do throws(StateStoreError) { try slots.store(bytes, in: slot) } catch {
                logger.error("cannot store the uploaded configuration", metadata: ["error": "\(error)"])
                return .groupError(ImageGroupError.flashWriteFailed.rawValue)
            }
            management.counters.uploads += 1
            logger.notice("configuration uploaded", metadata: ["slot": "\(slot.rawValue)", "bytes": "\(bytes.count)"])
            var fields: [(String, CBORValue)] = [("off", .unsigned(UInt64(bytes.count)))]
            if let match { fields.append(("match", .bool(match))) }
            return .answer(fields)
        }
    }

    /// Keeps what the last chunk added to the upload in progress on disk (``UploadJournal``), so that it
    /// resumes after a restart. A failure only costs that: logged, the journal dropped.
    func keepUpload(since before: (generation: UInt64, offset: Int)) {
        guard let journal = management.journal else { return }
        let upload = management.upload
        guard upload.inProgress, let sha = upload.announcedSHA else {
            journal.clear()
            return
        }
        do throws(StateStoreError) {
            if upload.generation != before.generation {
                try journal.begin(length: upload.totalLength, sha: sha)
                try journal.append(upload.received(0..<upload.offset))
            } else if upload.offset > before.offset {
                try journal.append(upload.received(before.offset..<upload.offset))
            }
        } catch {
            logger.warning("cannot keep the upload on disk; it will not resume after a restart", metadata: ["error": "\(error)"])
            journal.clear()
        }
    }

    /// Why an uploaded container cannot be stored, nil when it can: a valid MCUboot container with a
    /// SHA-256 TLV, a valid configuration image for this box (same node, same state directory), signed
    /// (ED25519 TLV) by a key of `[management] image-keys` when keys are provisioned.
    func checkUploadedImage(_ bytes: [UInt8]) -> (ImageGroupError, String)? {
        let image: MCUbootImage
        do throws(MCUbootImageError) { image = try MCUbootImage(parsing: bytes) } catch {
            switch error {
            case .badMagic: return (.invalidImageHeaderMagic, "\(error)")
            case .hashMismatch, .noHash, .multipleHashes: return (.invalidHash, "\(error)")
            case .badTLV, .badTLVInfo, .trailingBytes: return (.invalidTLV, "\(error)")
            default: return (.invalidImageHeader, "\(error)")
            }
        }
        let c: NodeConfiguration
        do throws(ConfigurationImageError) { c = try ConfigurationImage.decode(image.payload) } catch {
            return (.invalidImageHeader, "configuration image: \(error)")
        }
        guard c.node == configuration.node else {
            return (.invalidImageHeader, "configuration is for node \(c.node.rawValue), this box is node \(configuration.node.rawValue)")
        }
        guard c.stateDirectory == configuration.stateDirectory else {
            return (.invalidImageHeader, "configuration names state directory \(c.stateDirectory), this box uses \(configuration.stateDirectory)")
        }
        let keys = configuration.management.imageKeys
        if !keys.isEmpty {
            let signed = Array(bytes[0..<image.signedLength])
            let valid = image.signatures.contains { signature in
                keys.contains { ImageSignature.verify(signature, digest: image.hash, signedBytes: signed, key: $0) }
            }
            guard valid else {
                return (.invalidHash, image.signatures.isEmpty
                    ? "the image is not signed, and this box requires a signature by a provisioned key (image-keys)"
                    : "no signature of the image verifies with a provisioned key (image-keys)")
            }
        }
        return nil
    }
}
