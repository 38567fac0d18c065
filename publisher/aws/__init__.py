"""AWS calls: PutPartnerEvents clients, the control plane, partner event sources."""
