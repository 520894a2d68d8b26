import AKRPKeySource
import AKRPManagement
import Testing

/// The upload state machine: offsets, resumption, overruns, restoring a kept upload.
@Suite struct ImageUploadTests {
    static let image = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    static let sha = SHA256.hash(image)

    @Test func chunksOutOfOrderAreNotStoredAndTheExpectedOffsetIsNamed() throws {
        var u = ImageUpload(maximumLength: 4096)
        let step1 = try u.chunk(offset: 100, data: [1], length: nil, sha: nil)
        #expect(step1 == .next(offset: 0))
        let step2 = try u.chunk(offset: 0, data: Array(Self.image[0..<300]), length: 1000, sha: Self.sha)
        #expect(step2 == .next(offset: 300))
        let step3 = try u.chunk(offset: 500, data: Array(Self.image[500..<600]), length: nil, sha: nil)
        #expect(step3 == .next(offset: 300))
        let step4 = try u.chunk(offset: 200, data: Array(Self.image[200..<300]), length: nil, sha: nil)
        #expect(step4 == .next(offset: 300))
        // A first chunk repeating length and SHA-256 resumes; another SHA-256 starts over.
        let g = u.generation
        let step5 = try u.chunk(offset: 0, data: Array(Self.image[0..<10]), length: 1000, sha: Self.sha)
        #expect(step5 == .next(offset: 300))
        #expect(u.generation == g)
        let step6 = try u.chunk(offset: 300, data: Array(Self.image[300...]), length: nil, sha: nil)
        #expect(step6 == .complete(bytes: Self.image, match: true))
        #expect(!u.inProgress)
        let step7 = try u.chunk(offset: 0, data: [1, 2], length: 3, sha: nil)
        #expect(step7 == .next(offset: 2))
        let step8 = try u.chunk(offset: 0, data: [1], length: 3, sha: Array(repeating: 0, count: 32))
        #expect(step8 == .next(offset: 1))
        #expect(u.generation == g + 2)
    }

    @Test func badFirstChunksAndOverrunsAreGroupErrors() {
        var u = ImageUpload(maximumLength: 100)
        #expect(!u.inProgress)
        #expect(throws: ImageGroupError.invalidLength) { var v = u; _ = try v.chunk(offset: 0, data: [1], length: nil, sha: nil) }
        #expect(throws: ImageGroupError.invalidLength) { var v = u; _ = try v.chunk(offset: 0, data: [1], length: 0, sha: nil) }
        #expect(throws: ImageGroupError.imageTooLarge) { var v = u; _ = try v.chunk(offset: 0, data: [1], length: 101, sha: nil) }
        #expect(throws: ImageGroupError.invalidHash) { var v = u; _ = try v.chunk(offset: 0, data: [1], length: 10, sha: [1, 2]) }
        do {
            _ = try u.chunk(offset: 0, data: Array(repeating: 1, count: 11), length: 10, sha: nil)
            Issue.record("an overrun was accepted")
        } catch {
            #expect(error == .dataOverrun)
        }
        #expect(!u.inProgress)
    }

    @Test func aKeptUploadIsRestoredAndCompletes() throws {
        var u = ImageUpload(maximumLength: 4096)
        let restored9 = u.restore(length: 1000, sha: [1], bytes: [])
        #expect(!restored9)
        let restored10 = u.restore(length: 10, sha: Self.sha, bytes: Array(repeating: 0, count: 10))
        #expect(!restored10)
        let restored11 = u.restore(length: 1000, sha: Self.sha, bytes: Array(Self.image[0..<640]))
        #expect(restored11)
        #expect(u.offset == 640 && u.received(600..<640) == Self.image[600..<640])
        let step12 = try u.chunk(offset: 0, data: [9], length: 1000, sha: Self.sha)
        #expect(step12 == .next(offset: 640))
        let step13 = try u.chunk(offset: 640, data: Array(Self.image[640...]), length: nil, sha: nil)
        #expect(step13 == .complete(bytes: Self.image, match: true))
    }
}
