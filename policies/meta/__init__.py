"""Rules about the policy set-up itself: waivers are data, checked like everything else.

May import: policies.core, policies.settings (waiver data) and the rules whose findings are
never waivable (policies.isolation); never policies.registry (the pack hands rule names in
through the context).
"""
