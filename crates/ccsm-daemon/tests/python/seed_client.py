"""The session-server seed's client examples, as written there (aiohttp).

The only changes: the base URL comes from CCSM_URL (the test's daemon listens on
a free port, not 8082), and the paths from the test's temp dirs. Run by the
daemon test `the_seeds_python_client_runs_as_is`.
"""
import aiohttp
import asyncio
import json
import os
import sys

BASE = os.environ.get("CCSM_URL", "http://localhost:8082")
ENVELOPE = {"success", "data", "error", "timestamp"}


def check(result):
    # Every response is the envelope.
    missing = ENVELOPE - set(result)
    if missing:
        print(f"not an envelope, missing {sorted(missing)}: {result}", file=sys.stderr)
        sys.exit(3)


async def create_session():
    async with aiohttp.ClientSession() as session:
        data = {
            'name': 'My Project Session',
            'working_directory': os.environ["WORK_DIR"],
            'description': 'Development session for my project',
            'agents': [
                {
                    'agent_type': 'BACKEND',
                    'name': 'backend-services',
                    'enabled': True,
                    'priority': 2
                }
            ]
        }

        async with session.post(f'{BASE}/api/claude/sessions', json=data) as resp:
            result = await resp.json()
            check(result)
            if result['success']:
                print(f"Session created: {result['session']['id']}")
                return result['session']['id']
            print(f"Not created: {result['error']}", file=sys.stderr)
            sys.exit(4)


async def navigate_session(session_id, new_path):
    async with aiohttp.ClientSession() as session:
        data = {
            'path': new_path,
            'validate_permissions': True,
            'update_git_state': True
        }

        async with session.post(
            f'{BASE}/api/claude/sessions/{session_id}/navigate',
            json=data
        ) as resp:
            result = await resp.json()
            check(result)
            if result['success']:
                print(f"Navigated to: {new_path}")
            else:
                print(f"Refused: {new_path}: {result['error']['kind']}")


async def get_session_metrics(session_id):
    async with aiohttp.ClientSession() as session:
        async with session.get(
            f'{BASE}/api/claude/sessions/{session_id}/metrics?hours=1'
        ) as resp:
            result = await resp.json()
            check(result)
            if result['success']:
                summary = result['summary']
                print(f"Session duration: {summary.get('duration_hours', 0):.2f} hours")
                print(f"Data points: {summary.get('total_data_points', 0)}")


async def main():
    session_id = await create_session()
    await navigate_session(session_id, "/etc")
    await navigate_session(session_id, os.environ["NEW_PATH"])
    await get_session_metrics(session_id)
    async with aiohttp.ClientSession() as session:
        async with session.get(f'{BASE}/api/claude/sessions/{session_id}/status') as resp:
            result = await resp.json()
            check(result)
            print("Status: " + json.dumps(result['data']))


# Run the example
asyncio.run(main())
