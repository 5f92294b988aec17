"""Workers package - all worker modules auto-discovered (see ``examples/worker_discovery.py``).

    discovered/
        greetings.py         greet_sync (def), greet_async (async def)
        billing/
            invoices.py      create_invoice (def)
"""
