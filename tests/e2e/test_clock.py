"""The manual clock: a move answers only once every timer due by the new time
has fired, also when two moves overlap, and a timer acts at its due time
however far one move jumps past it."""
import http.client
import json
import threading

from harness import DAY, HOUR, T0, ServerTestCase, main

CASES = 300


class OverlappingMoves(ServerTestCase):
    def move(self, body, out):
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        conn.request("POST", "/v1/admin/clock", json.dumps(body),
                     {"Authorization": "Bearer adm", "Content-Type": "application/json"})
        r = conn.getresponse()
        out.append((r.status, json.loads(r.read())))
        conn.close()

    def test_second_move_waits_for_the_timers_the_first_made_due(self):
        for i in range(CASES):  # consultations: first reply due in 2 hours
            self.open_case(type="consultation", buyer_id="b%d" % i, reason="other", channel="chat")
        due = T0 + 2 * HOUR + 1
        first, second = [], []
        t1 = threading.Thread(target=self.move, args=({"advance": 2 * HOUR + 1}, first))
        t1.start()
        # lands before, during or after the first move's timer round: in every
        # case the clock is past the due time when it answers, so every breach
        # must be stored by then
        self.move({"set": due}, second)
        self.assertEqual(second[0][0], 200)
        self.assertEqual(self.count_breached(), CASES)
        t1.join()
        self.assertEqual(first[0][0], 200)

    def count_breached(self):
        total, cursor = 0, ""
        while True:
            page = self.s.get("/v1/cases?breached=true&limit=200" + cursor)
            self.assertStatus(page, 200)
            total += len(page["cases"])
            if not page["next_cursor"]:
                return total
            cursor = "&cursor=%s" % page["next_cursor"]


class JumpPastTimers(ServerTestCase):
    def test_each_timer_is_stamped_with_its_due_time(self):
        c = self.open_case(type="consultation", buyer_id="b1", reason="other", channel="chat")
        cid = c["case_id"]
        due = c["sla"]["first_response_due"]
        self.assertEqual(due, T0 + 2 * HOUR)
        self.s.advance(3 * HOUR)  # the first-response target passed an hour ago
        self.act(cid, "resolve", resolution="answered")
        resolved = T0 + 3 * HOUR
        self.s.advance(30 * DAY)  # one jump past the survey and the auto-close
        k = self.s.get("/v1/cases/" + cid).json
        self.assertEqual(k["status"], "closed")
        self.assertEqual(k["survey"]["sent_at"], resolved + HOUR)
        self.assertEqual(k["closed_at"], resolved + 7 * DAY)
        self.assertEqual(k["updated_at"], resolved + 7 * DAY)
        timeline = self.s.get("/v1/cases/%s/timeline" % cid).json["events"]
        at = {e["type"]: e["at"] for e in timeline if e["type"] in ("sla.breached", "survey.sent", "status")}
        self.assertEqual(at, {"sla.breached": due + 1, "survey.sent": resolved + HOUR,
                              "status": resolved + 7 * DAY})
        feed = [e for e in self.s.get("/v1/events?limit=1000").json["events"] if e.get("case_id") == cid]
        times = {e["type"]: e["at"] for e in feed if e["type"] in ("sla.breached", "survey.requested")}
        self.assertEqual(times, {"sla.breached": due + 1, "survey.requested": resolved + HOUR})
        self.assertEqual([e["seq"] for e in feed], sorted(e["seq"] for e in feed))
        self.assertEqual([e["at"] for e in feed], sorted(e["at"] for e in feed))

    def test_a_stalled_parcel_case_opens_when_the_silence_reached_48_hours(self):
        self.make_order(delivered_at=None)
        self.assertStatus(self.s.post("/v1/orders/o1/tracking", {"status": "shipped", "at": T0}), 200)
        self.s.advance(10 * DAY)
        cases = self.s.get("/v1/cases?type=logistics").json["cases"]
        self.assertEqual(len(cases), 1)
        self.assertEqual(cases[0]["created_at"], T0 + 48 * HOUR)
        alerts = self.s.get("/v1/alerts?kind=stalled_parcel").json["alerts"]
        self.assertEqual([a["at"] for a in alerts], [T0 + 48 * HOUR])


if __name__ == "__main__":
    main()
