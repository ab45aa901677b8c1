"""The manual clock: a move answers only once every timer due by the new time
has fired, also when two moves overlap."""
import http.client
import json
import threading

from harness import HOUR, T0, ServerTestCase, main

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

if __name__ == "__main__":
    main()
