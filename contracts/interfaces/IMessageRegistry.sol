// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/**
 * @title IMessageRegistry
 * @notice The public face of ChainMail's registry: the signed message, the events that
 * are the record of truth, the errors and the external functions.
 *
 * A message is EIP-712 typed data `Message(bytes32 channel,address author,bytes body,
 * uint8 contentType,uint64 timestamp,uint64 replyTo,uint256 nonce)` under the domain
 * (name "ChainMail", version "1", chainId, registry address). Per channel, the n-th
 * posted message gets `seq = n` and `head_n = keccak256(abi.encode(head_{n-1}, digest_n, n))`
 * with `head_0 = 0`.
 */
interface IMessageRegistry {
    /// @notice A message as its author signed it, plus the signature.
    struct SignedMessage {
        bytes32 channel;
        address author;
        bytes body;
        uint8 contentType;
        uint64 timestamp;
        uint64 replyTo;
        uint256 nonce;
        bytes signature;
    }

    /// @notice Why a message was not posted. The numbers are part of the protocol: never renumber.
    enum Reason {
        None,
        UnknownChannel,
        ChannelClosed,
        NotMember,
        EmptyBody,
        BodyTooLarge,
        UnknownContentType,
        TimestampInFuture,
        MessageExpired,
        UnknownReply,
        NonceUsed,
        BadSignature
    }

    /// @notice Admin-set limits on what a message may be.
    struct Limits {
        uint32 maxBodyBytes;
        uint32 maxAge;
        uint32 maxFutureSkew;
    }

    /// @notice A message was sequenced and sealed. Carries everything needed to recompute
    /// its digest and the channel head, and to re-verify its signature, from the log alone.
    /// @dev The log's data is PACKED, not ABI-encoded (it costs 8 gas a byte): contentType
    /// (1 byte), timestamp (8), R (1), replyTo (R bytes, 0-8), N (1), nonce (N bytes, 0-32),
    /// head (32), signature length (2), signature, then the body to the end of the data.
    /// All integers big-endian; replyTo and nonce without leading zero bytes. The
    /// README's "MessagePosted" section has it byte by byte; the protocol package decodes it.
    event MessagePosted(bytes32 indexed channel, uint64 indexed seq, address indexed author);

    /// @notice `author` cancelled the nonces `mask` of bitmap word `word` (nonce = word * 256 + bit):
    /// a signed message with one of them can no longer be posted.
    event UnorderedNonceInvalidation(address indexed author, uint256 word, uint256 mask);

    /// @notice A message of a batch was refused; nothing about the channel changed.
    event MessageRejected(bytes32 indexed channel, address indexed author, bytes32 indexed digest, Reason reason);

    event ChannelCreated(bytes32 indexed channel, address indexed admin);
    event ChannelClosed(bytes32 indexed channel);
    event ChannelReopened(bytes32 indexed channel);
    event LimitsChanged(uint32 maxBodyBytes, uint32 maxAge, uint32 maxFutureSkew);
    event ContentTypeChanged(uint8 indexed contentType, bool known);

    error UnknownChannel(bytes32 channel);
    error ChannelAlreadyExists(bytes32 channel);
    error ChannelIsClosed(bytes32 channel);
    error ChannelIsOpen(bytes32 channel);
    error InvalidChannelId();
    error InvalidAdmin();
    error InvalidLimits();
    error NotMember(bytes32 channel, address author);
    error EmptyBody();
    error BodyTooLarge(uint256 length, uint256 maxBodyBytes);
    error UnknownContentType(uint8 contentType);
    error TimestampInFuture(uint64 timestamp, uint256 latestAllowed);
    error MessageExpired(uint64 timestamp, uint256 oldestAllowed);
    error UnknownReply(uint64 replyTo, uint64 lastSeq);
    error NonceUsed(address author, uint256 nonce);
    error BadSignature(address author);
    error NotChannelAdmin(bytes32 channel, address account);
    /// @notice Less gas was left than a contract wallet's signature check is given
    /// (`WALLET_CHECK_GAS`): the sender must send the batch with more gas.
    error InsufficientGasForWalletCheck();
    /// @notice A packed batch ends inside a run or a message, has an empty run, or a replyTo
    /// or nonce longer than its type (at byte `offset` of the batch, where the run or message
    /// starts): the sender built it wrong, so nothing of it is posted.
    error MalformedBatch(uint256 offset);
    /// @notice The registry admin may not renounce while the registry is paused (it would stay paused).
    error AdminRenounceWhilePaused();

    /// @notice Creates an open channel whose admin may add and remove members.
    /// @dev Registry admin only. Emits {ChannelCreated} and a {RoleGranted} for the admin.
    function createChannel(bytes32 channel, address admin) external;

    /// @notice Stops a channel from accepting messages. Channel admin or registry admin.
    function closeChannel(bytes32 channel) external;

    /// @notice Lets a closed channel accept messages again. Channel admin or registry admin.
    function reopenChannel(bytes32 channel) external;

    /// @notice Sets the message limits. Registry admin only. Emits {LimitsChanged}.
    function setLimits(Limits calldata newLimits) external;

    /// @notice Marks a content type as known or unknown. Registry admin only.
    function setContentType(uint8 contentType, bool known) external;

    /// @notice Pauses posting. Registry admin only.
    function pause() external;

    /// @notice Resumes posting. Registry admin only.
    function unpause() external;

    /// @notice Cancels the caller's nonces, as Permit2 does: every bit set in `mask` marks
    /// nonce `wordPos * 256 + bit` used, so any message the caller signed with one of them
    /// is refused ({NonceUsed}) from now on. Bits already used stay used. Emits
    /// {UnorderedNonceInvalidation}.
    /// @param wordPos The bitmap word: the nonce shifted right by 8.
    /// @param mask The bits to set: 1 << (nonce & 0xff) for each nonce of that word.
    function invalidateUnorderedNonces(uint256 wordPos, uint256 mask) external;

    /// @notice Posts one message; reverts with the check's custom error if it is refused.
    /// @return seq The message's sequence number in its channel.
    function post(SignedMessage calldata message) external returns (uint64 seq);

    /// @notice Posts many messages. Each one is posted ({MessagePosted}) or refused
    /// ({MessageRejected}); a refused message never reverts the others. A contract
    /// wallet's EIP-1271 check gets a fixed gas allowance, so a wallet that burns gas is
    /// refused with `BadSignature`; the batch reverts with {InsufficientGasForWalletCheck}
    /// only if it was sent with too little gas to give a wallet that allowance.
    /// @param packed Runs back to back, each: channel (32 bytes), message count (2, at
    /// least 1), then that many messages of the channel back to back, each: author (20),
    /// contentType (1), timestamp (8), R (1, at most 8), replyTo (R bytes), N (1, at most
    /// 32), nonce (N bytes), body length (4), signature length (2), body, signature;
    /// integers big-endian (README "postBatch calldata";
    /// the protocol package's `packBatch` builds it). A batch that ends inside a run or a
    /// message, has an empty run or an over-long replyTo or nonce, reverts with {MalformedBatch}.
    /// @return posted How many messages were posted.
    function postBatch(bytes calldata packed) external returns (uint256 posted);

    /// @notice The channel's state: whether it exists and is open, its last seq and head.
    function channelInfo(bytes32 channel) external view returns (bool exists, bool open, uint64 seq, bytes32 head);

    /// @notice How many channels exist.
    function channelCount() external view returns (uint256);

    /// @notice Up to `limit` channel ids in creation order, from the `offset`-th (0-based);
    /// fewer (or none) at the end of the list. Paged so that any number of channels can be
    /// read within a node's `eth_call` gas cap: a page of 1,000 stays under 5M gas (tested).
    function channels(uint256 offset, uint256 limit) external view returns (bytes32[] memory);

    /// @notice The role whose holders may post in `channel`.
    function memberRole(bytes32 channel) external pure returns (bytes32);

    /// @notice The role whose holders administer `channel`'s members.
    function adminRole(bytes32 channel) external pure returns (bytes32);

    /// @notice The EIP-712 digest an author signs for `message` (its signature is ignored).
    function digestOf(SignedMessage calldata message) external view returns (bytes32);

    /// @notice Whether `author` has used `nonce`.
    function isNonceUsed(address author, uint256 nonce) external view returns (bool);

    /// @notice The current limits.
    function limits() external view returns (Limits memory);

    /// @notice Whether `contentType` is accepted.
    function isContentTypeKnown(uint8 contentType) external view returns (bool);

    /// @notice The block in which the registry was deployed, where log readers start.
    function deploymentBlock() external view returns (uint256);
}
