"""Database-side rules that a plain constraint cannot express, and the seeded lists.

- memberships join a registrant group to a registrant individual;
- a unique membership kind ("Head") is held by one open membership per group, whichever path
  writes (ORM, admin, bulk SQL, RPC); the group row is locked while checking, so two concurrent
  writers cannot both win;
- relationships of one type between the same two registrants never overlap in time (checked
  under a transaction-level advisory lock on the pair);
- seeded default kinds (``protected``) cannot be edited or deleted.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION g2p_membership_check_parties() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant
                   WHERE id = NEW.group_id AND is_group AND is_registrant) THEN
        RAISE EXCEPTION 'group: registrant % is not a registrant group', NEW.group_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'membership_group_is_group';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM g2p_registry_base_registrant
                   WHERE id = NEW.individual_id AND NOT is_group AND is_registrant) THEN
        RAISE EXCEPTION 'individual: registrant % is not a registrant individual', NEW.individual_id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'membership_individual_is_individual';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER g2p_membership_check_parties
    BEFORE INSERT OR UPDATE OF group_id, individual_id ON g2p_registry_base_groupmembership
    FOR EACH ROW EXECUTE FUNCTION g2p_membership_check_parties();

-- Raise when group ``p_group`` has more than one open membership holding unique kind ``p_kind``.
CREATE FUNCTION g2p_assert_unique_kind(p_group bigint, p_kind bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_name text;
BEGIN
    SELECT name INTO v_name FROM g2p_registry_base_membershipkind WHERE id = p_kind AND is_unique;
    IF v_name IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM g2p_registry_base_registrant WHERE id = p_group FOR UPDATE;
    IF (SELECT count(*) FROM g2p_registry_base_groupmembership_kinds l
          JOIN g2p_registry_base_groupmembership m ON m.id = l.groupmembership_id
         WHERE m.group_id = p_group AND l.membershipkind_id = p_kind AND m.ended_date IS NULL) > 1 THEN
        RAISE EXCEPTION 'kinds: Only one % is allowed per group', v_name
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'membership_unique_kind_per_group';
    END IF;
END $$;

CREATE FUNCTION g2p_membership_kind_link_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM g2p_assert_unique_kind(
        (SELECT group_id FROM g2p_registry_base_groupmembership WHERE id = NEW.groupmembership_id),
        NEW.membershipkind_id);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER g2p_membership_kind_link_check
    AFTER INSERT OR UPDATE ON g2p_registry_base_groupmembership_kinds
    FOR EACH ROW EXECUTE FUNCTION g2p_membership_kind_link_check();

CREATE FUNCTION g2p_membership_reopen_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_kind bigint;
BEGIN
    FOR v_kind IN SELECT membershipkind_id FROM g2p_registry_base_groupmembership_kinds
                   WHERE groupmembership_id = NEW.id LOOP
        PERFORM g2p_assert_unique_kind(NEW.group_id, v_kind);
    END LOOP;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER g2p_membership_reopen_check
    AFTER UPDATE OF group_id, ended_date ON g2p_registry_base_groupmembership
    FOR EACH ROW WHEN (NEW.ended_date IS NULL)
    EXECUTE FUNCTION g2p_membership_reopen_check();

CREATE FUNCTION g2p_membershipkind_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_group bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.protected THEN
            RAISE EXCEPTION 'Can''t delete default kinds'
                USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'membershipkind_protected';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.protected AND (NEW.name IS DISTINCT FROM OLD.name OR NEW.is_unique IS DISTINCT FROM OLD.is_unique
                          OR NOT NEW.protected) THEN
        RAISE EXCEPTION 'Can''t edit default kinds'
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'membershipkind_protected';
    END IF;
    IF NEW.is_unique AND NOT OLD.is_unique THEN
        SELECT m.group_id INTO v_group
          FROM g2p_registry_base_groupmembership_kinds l
          JOIN g2p_registry_base_groupmembership m ON m.id = l.groupmembership_id
         WHERE l.membershipkind_id = NEW.id AND m.ended_date IS NULL
         GROUP BY m.group_id HAVING count(*) > 1 LIMIT 1;
        IF v_group IS NOT NULL THEN
            RAISE EXCEPTION 'is_unique: group % already has several members of kind %', v_group, NEW.name
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'membership_unique_kind_per_group';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER g2p_membershipkind_guard
    BEFORE UPDATE OR DELETE ON g2p_registry_base_membershipkind
    FOR EACH ROW EXECUTE FUNCTION g2p_membershipkind_guard();

CREATE FUNCTION g2p_relationship_no_overlap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('g2p.relationship:' || NEW.source_id || ':' || NEW.destination_id, 0));
    IF EXISTS (
        SELECT 1 FROM g2p_registry_base_relationship r
         WHERE r.id <> NEW.id
           AND r.source_id = NEW.source_id AND r.destination_id = NEW.destination_id
           AND r.relation_id IS NOT DISTINCT FROM NEW.relation_id
           AND (NEW.start_date IS NULL OR r.end_date IS NULL OR r.end_date >= NEW.start_date)
           AND (NEW.end_date IS NULL OR r.start_date IS NULL OR r.start_date <= NEW.end_date)) THEN
        RAISE EXCEPTION 'relation: this relationship overlaps an existing one between the same registrants'
            USING ERRCODE = 'exclusion_violation', CONSTRAINT = 'relationship_no_overlap';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER g2p_relationship_no_overlap
    BEFORE INSERT OR UPDATE ON g2p_registry_base_relationship
    FOR EACH ROW EXECUTE FUNCTION g2p_relationship_no_overlap();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS g2p_relationship_no_overlap ON g2p_registry_base_relationship;
DROP FUNCTION IF EXISTS g2p_relationship_no_overlap();
DROP TRIGGER IF EXISTS g2p_membershipkind_guard ON g2p_registry_base_membershipkind;
DROP FUNCTION IF EXISTS g2p_membershipkind_guard();
DROP TRIGGER IF EXISTS g2p_membership_reopen_check ON g2p_registry_base_groupmembership;
DROP FUNCTION IF EXISTS g2p_membership_reopen_check();
DROP TRIGGER IF EXISTS g2p_membership_kind_link_check ON g2p_registry_base_groupmembership_kinds;
DROP FUNCTION IF EXISTS g2p_membership_kind_link_check();
DROP FUNCTION IF EXISTS g2p_assert_unique_kind(bigint, bigint);
DROP TRIGGER IF EXISTS g2p_membership_check_parties ON g2p_registry_base_groupmembership;
DROP FUNCTION IF EXISTS g2p_membership_check_parties();
"""


def seed(apps, schema_editor):
    from pbms.seed import seed_registry

    seed_registry(apps)


class Migration(migrations.Migration):
    dependencies = [("g2p_registry_base", "0001_initial")]

    operations = [
        migrations.RunSQL(FORWARD, BACKWARD),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
