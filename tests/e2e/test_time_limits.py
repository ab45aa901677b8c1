"""Instants at the edge of time: an SLA target or a survey delay a policy
sets past the last representable second, a business target the calendar
never reaches, and a manual clock moved far into the future. None of them may
wrap around into a due time in the past (the HTTP fuzz pass found a breach
firing the moment such a case opened, and UBSan the overflow behind it)."""
from harness import DAY, HOUR, ServerTestCase, Server, main, order_body, policies_copy, stop_cleanly, \
    wrap_module


class FarTargets(ServerTestCase):
    def setUp(self):
        pol = policies_copy(self)
        wrap_module(pol, "sla.lua",
                    "function M.targets(case, ctx)\n"
                    "    if case.description == 'never' then\n"
                    "        return {first_response = math.maxinteger, resolution = math.maxinteger,\n"
                    "                business = false}\n"
                    "    end\n"
                    "    return {first_response = math.maxinteger, resolution = 1 << 62, business = true}\n"
                    "end\n")
        wrap_module(pol, "survey.lua",
                    "function M.plan(case, ctx) return {send_after = math.maxinteger} end\n")
        self.s = Server(policies=pol).start()
        self.addCleanup(self.s.cleanup)
        self.addCleanup(stop_cleanly, self, self.s)

    def test_a_target_past_the_last_second_is_no_target_and_never_fires(self):
        self.make_order()
        for description in ("never", "business"):
            c = self.open_case(type="consultation", order_id="o1", reason="other", channel="chat",
                               description=description)
            self.assertIsNone(c["sla"]["first_response_due"], c["sla"])
            self.assertIsNone(c["sla"]["resolution_due"], c["sla"])
            self.s.advance(2 * DAY)
            kase = self.s.get("/v1/cases/" + c["case_id"]).json
            self.assertEqual(kase["sla"]["breached"], [], kase["sla"])

    def test_a_survey_delay_past_the_last_second_sends_no_survey(self):
        self.make_order()
        c = self.open_case(type="consultation", order_id="o1", reason="other", channel="chat")
        self.act(c["case_id"], "resolve", resolution="answered")
        self.s.advance(HOUR)
        kase = self.s.get("/v1/cases/" + c["case_id"]).json
        self.assertIsNone(kase["survey"].get("due_at"), kase["survey"])
        self.assertIsNone(kase["survey"].get("sent_at"), kase["survey"])
        self.assertEqual(kase["status"], "resolved")


class ClockBounds(ServerTestCase):
    def test_the_manual_clock_stays_within_the_timestamps_of_the_api(self):
        limit = 1 << 40
        self.assertError(self.s.post("/v1/admin/clock", {"set": limit + 1}), 400, "invalid_field")
        now = self.s.advance(0)
        r = self.s.post("/v1/admin/clock", {"advance": limit - now + 1})
        self.assertEqual(self.assertError(r, 400, "invalid_field")["field"], "advance")
        self.assertEqual(self.s.advance(0), now)  # a refused move moves nothing
        self.make_order()
        c = self.open_case(type="consultation", order_id="o1", reason="other", channel="chat")
        self.assertEqual(self.s.set_clock(limit), limit)  # every timer fires, each at its due
        kase = self.s.get("/v1/cases/" + c["case_id"]).json  # a consultation: a 2-hour first response
        self.assertEqual(kase["sla"]["breached"], ["first_response"])
        self.make_order(order_id="o2", now=limit)  # the far future still works
        late = self.open_case(type="consultation", order_id="o2", reason="other", channel="chat")
        self.assertEqual(late["created_at"], limit)


if __name__ == "__main__":
    main()
