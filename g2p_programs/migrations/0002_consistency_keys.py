"""Composite foreign keys keeping denormalised columns honest.

An entitlement's ``program`` must be its cycle's program, and a payment's ``cycle`` its
entitlement's cycle. Both are plain b-tree checks done by PostgreSQL on every insert and update,
set-based writes included, with no trigger.
"""

from django.db import migrations

FORWARD = """
ALTER TABLE g2p_programs_cycle
    ADD CONSTRAINT cycle_id_program_unique UNIQUE (id, program_id);
ALTER TABLE g2p_programs_entitlement
    ADD CONSTRAINT entitlement_cycle_program_fk FOREIGN KEY (cycle_id, program_id)
    REFERENCES g2p_programs_cycle (id, program_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE g2p_programs_entitlement
    ADD CONSTRAINT entitlement_id_cycle_unique UNIQUE (id, cycle_id);
ALTER TABLE g2p_programs_payment
    ADD CONSTRAINT payment_entitlement_cycle_fk FOREIGN KEY (entitlement_id, cycle_id)
    REFERENCES g2p_programs_entitlement (id, cycle_id) DEFERRABLE INITIALLY DEFERRED;
"""

BACKWARD = """
ALTER TABLE g2p_programs_payment DROP CONSTRAINT IF EXISTS payment_entitlement_cycle_fk;
ALTER TABLE g2p_programs_entitlement DROP CONSTRAINT IF EXISTS entitlement_id_cycle_unique;
ALTER TABLE g2p_programs_entitlement DROP CONSTRAINT IF EXISTS entitlement_cycle_program_fk;
ALTER TABLE g2p_programs_cycle DROP CONSTRAINT IF EXISTS cycle_id_program_unique;
"""


class Migration(migrations.Migration):
    dependencies = [("g2p_programs", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
