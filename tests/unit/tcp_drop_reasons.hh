// Which unit test produces each TCP drop reason. stack_test.cc checks that
// every tcp_* reason in net/counters.hh is listed here and that the test
// named for it exists, so a new reason without a test fails the build's
// tests rather than going unnoticed. Each listed test crafts the segments
// that cause the drop and asserts that exactly that reason's counter moved.
#pragma once

#include "net/counters.hh"

namespace ix::net::test {

struct TcpDropReasonCase {
  DropReason reason;
  const char *test;  // "Suite.Name", as GoogleTest registers it
};

inline constexpr TcpDropReasonCase kTcpDropReasonTests[] = {
    {DropReason::kTcpTruncated, "TcpDropReasonTest.SegmentShorterThanATcpHeaderIsTruncated"},
    {DropReason::kTcpBadChecksum, "TcpDropReasonTest.CorruptedSegmentFailsTheChecksum"},
    {DropReason::kTcpBadHeaderLen, "TcpDropReasonTest.DataOffsetBelowFiveOrPastTheEndIsRefused"},
    {DropReason::kTcpBadOptions, "TcpDropReasonTest.OptionLongerThanTheHeaderIsRefused"},
    {DropReason::kTcpBadAddress, "TcpDropReasonTest.SourcePortZeroIsABadAddress"},
    {DropReason::kTcpBadFlags, "TcpDropReasonTest.SynWithFinOrRstIsRefused"},
    {DropReason::kTcpNoConnection, "TcpDropReasonTest.SegmentToAClosedPortIsAnsweredWithRst"},
    {DropReason::kTcpListenIgnored, "TcpDropReasonTest.RstOrSynAckToAListenerIsIgnored"},
    {DropReason::kTcpSynSentIgnored, "TcpDropReasonTest.ReplyWithoutSynInSynSentIsIgnored"},
    {DropReason::kTcpOutOfWindow, "TcpDropReasonTest.SegmentFarPastTheWindowIsOutOfWindow"},
    {DropReason::kTcpPaws, "TcpDropReasonTest.OlderTimestampIsRejectedByPaws"},
    {DropReason::kTcpRstIgnored, "TcpDropReasonTest.RstInTheWindowButNotAtRcvNxtIsChallenged"},
    {DropReason::kTcpSynChallenged, "TcpDropReasonTest.SynOnAnEstablishedConnectionIsChallenged"},
    {DropReason::kTcpNoAck, "TcpDropReasonTest.DataWithoutTheAckBitIsDropped"},
    {DropReason::kTcpBadAck, "TcpDropReasonTest.AckForDataNeverSentIsDropped"},
    {DropReason::kTcpDataAfterFin, "TcpDropReasonTest.DataAfterThePeersFinIsDropped"},
    {DropReason::kTcpRecvQueueFull,
     "TcpDropReasonTest.InOrderSegmentBeyondTheReceiveQueueIsDropped"},
    {DropReason::kTcpPoolLow, "TcpDropReasonTest.DataIsNotHeldWhenThePoolIsAtItsHoldingLimit"},
    {DropReason::kTcpReassemblyFull,
     "TcpDropReasonTest.OutOfOrderSegmentBeyondTheReassemblyLimitIsDropped"},
    {DropReason::kTcpSynBacklogFull,
     "TcpDropReasonTest.SynBeyondTheBacklogIsDroppedWithoutCookies"},
    {DropReason::kTcpConnTableFull, "TcpDropReasonTest.SynToAFullTableIsDroppedWithoutCookies"},
    {DropReason::kTcpBadCookie, "TcpDropReasonTest.AckWithAForgedCookieIsRefused"},
};

}  // namespace ix::net::test
