"""Campaign events function: campaign.created|updated|cancelled from other services on the bus."""

from gatehouse.jobs import apply_campaign_event, make_job

lambda_handler = make_job(apply_campaign_event, name="CampaignEvent")
