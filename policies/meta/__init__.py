"""Rules about the policy set-up itself: waivers are data, checked like everything else."""
