"""Two replicas edit one document offline, exchange only what the other lacks, and converge.

Run it from the checkout with ``python3 dev.py demo``, or ``python3 dev.py example two_replicas``
(dev.py sets up ``.venv`` first and runs this file with its Python, which has synckit installed).
"""

from __future__ import annotations

from synckit import Document


def main() -> None:
    alice = Document("alice")
    bob = Document("bob")

    alice.set("title", "Groceries")
    alice.get_list("items").append("milk")
    alice.get_text("notes").insert(0, "Buy before Friday")
    bob.merge(alice)  # bob starts from alice's document

    # Both edit while offline.
    alice.get_list("items").append("bread")
    alice.get_counter("budget").increment(20)
    bob.set("title", "Weekend groceries")
    bob.get_list("items").insert(0, "coffee")
    bob.get_counter("budget").increment(5)
    bob.get_text("notes").insert(0, "Please: ")

    # Each sends exactly what the other lacks.
    to_bob = alice.changes(since=bob.version())
    to_alice = bob.changes(since=alice.version())
    bob.apply(to_bob)
    alice.apply(to_alice)

    print(f"sent {len(to_bob)} bytes to bob and {len(to_alice)} bytes to alice")
    print("alice:", alice.to_json())
    print("bob:  ", bob.to_json())
    assert alice.to_json() == bob.to_json()
    print("converged at", alice.version())


if __name__ == "__main__":
    main()
