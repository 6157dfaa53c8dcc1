"""StampGrouper: views grouped by stamp with explicit times; a dead, late or clock-off view never
blocks the others, and every such event is reported."""
import pytest

from interhand_ros.multiview.grouping import (
    BACK,
    CLOCK_OFF,
    LATE,
    OUT_OF_ORDER,
    SILENT,
    GroupingConfig,
    StampGrouper,
    group_stamp,
)

MS = 1_000_000
CONFIG = GroupingConfig(tolerance_ns=10 * MS, max_wait_ns=50 * MS, view_timeout_ns=300 * MS,
                        max_clock_offset_ns=1000 * MS)


def grouper(views=('/cam1', '/cam2', '/cam3')) -> StampGrouper:
    return StampGrouper(list(views), CONFIG)


def test_at_the_start_the_first_group_waits_for_every_configured_view():
    g = grouper(('/cam1', '/cam2'))
    assert g.add('/cam1', 1000 * MS, 1010 * MS, 'a1') == []
    assert [group.items for group in g.poll(1010 * MS + CONFIG.max_wait_ns)] == [{'/cam1': 'a1'}]


def test_a_group_is_emitted_as_soon_as_every_live_view_joined():
    g = grouper()
    assert g.add('/cam1', 1000 * MS, 1020 * MS, 'a1') == []
    assert g.add('/cam2', 1003 * MS, 1025 * MS, 'b1') == []
    groups = g.add('/cam3', 998 * MS, 1030 * MS, 'c1')
    assert len(groups) == 1 and groups[0].complete
    assert groups[0].items == {'/cam1': 'a1', '/cam2': 'b1', '/cam3': 'c1'}
    assert groups[0].stamp_ns == 1000 * MS == group_stamp([1000 * MS, 1003 * MS, 998 * MS])


def test_a_view_that_moved_past_a_group_completes_it_without_waiting():
    g = grouper(('/cam1', '/cam2'))
    g.add('/cam1', 1000 * MS, 1010 * MS, 'a1')
    g.add('/cam2', 1001 * MS, 1011 * MS, 'b1')      # first group complete
    g.add('/cam1', 1033 * MS, 1043 * MS, 'a2')      # /cam2 drops this frame
    groups = g.add('/cam2', 1066 * MS, 1076 * MS, 'b3')
    assert [(group.items, group.complete) for group in groups] == [({'/cam1': 'a2'}, False)]


def test_a_partial_group_goes_out_after_max_wait():
    g = grouper(('/cam1', '/cam2'))
    g.add('/cam1', 1000 * MS, 1010 * MS, 'a1')
    g.add('/cam2', 1000 * MS, 1010 * MS, 'b1')
    g.add('/cam1', 1033 * MS, 1043 * MS, 'a2')
    assert g.poll(1043 * MS + CONFIG.max_wait_ns - 1) == []
    groups = g.poll(1043 * MS + CONFIG.max_wait_ns)
    assert [group.items for group in groups] == [{'/cam1': 'a2'}]


def test_a_silent_view_is_dropped_and_never_blocks_then_comes_back():
    g = grouper(('/cam1', '/cam2'))
    g.add('/cam1', 1000 * MS, 1010 * MS, 'a1')
    g.add('/cam2', 1000 * MS, 1010 * MS, 'b1')
    g.take_events()
    emitted = []
    for frame in range(1, 30):   # /cam2 dies; /cam1 goes on at 30 Hz
        stamp = 1000 * MS + frame * 33 * MS
        emitted += g.add('/cam1', stamp, stamp + 10 * MS, f'a{frame}')
    events = g.take_events()
    assert [event.kind for event in events] == [SILENT]
    assert events[0].view == '/cam2' and 'fusing without it' in events[0].message
    assert g.live_views() == ['/cam1']
    # once /cam2 is known dead, /cam1's groups go out with no wait at all
    assert emitted[-1].items == {'/cam1': 'a29'} and emitted[-1].complete
    stamp = 1000 * MS + 30 * 33 * MS
    assert g.add('/cam2', stamp, stamp + 12 * MS, 'b30') == []   # waits for /cam1 again
    assert [event.kind for event in g.take_events()] == [BACK]
    assert g.live_views() == ['/cam1', '/cam2']
    groups = g.add('/cam1', stamp + 1 * MS, stamp + 14 * MS, 'a30')
    assert [group.items for group in groups] == [{'/cam2': 'b30', '/cam1': 'a30'}]


def test_a_view_whose_clock_is_off_is_not_used_and_reported():
    g = grouper(('/cam1', '/cam2'))
    emitted = []
    for frame in range(12):
        stamp = 1000 * MS + frame * 33 * MS
        emitted += g.add('/cam2', stamp + 5000 * MS, stamp + 10 * MS, f'future{frame}')
        emitted += g.add('/cam1', stamp, stamp + 10 * MS, f'a{frame}')
    events = g.take_events()
    assert {(event.view, event.kind) for event in events} == {('/cam2', CLOCK_OFF),
                                                             ('/cam2', SILENT)}
    assert 'ahead of its arrival time' in events[0].message
    assert g.live_views() == ['/cam1']
    # /cam1 is not held up by /cam2 for longer than max_wait, then not at all
    assert all(group.items.keys() == {'/cam1'} for group in emitted)
    assert emitted[-1].items == {'/cam1': 'a11'} and emitted[-1].complete


def test_late_and_repeated_samples_are_dropped_and_reported():
    g = grouper(('/cam1', '/cam2'))
    g.add('/cam1', 1000 * MS, 1010 * MS, 'a1')
    g.poll(1010 * MS + CONFIG.max_wait_ns)                 # emitted without /cam2
    assert g.add('/cam2', 1002 * MS, 1070 * MS, 'b1') == []
    g.add('/cam1', 1000 * MS, 1080 * MS, 'again')
    assert [event.kind for event in g.take_events()] == [LATE, OUT_OF_ORDER]


def test_groups_come_out_in_stamp_order():
    g = grouper(('/cam1', '/cam2'))
    stamps = []
    for frame in range(6):
        stamp = 1000 * MS + frame * 33 * MS
        for group in g.add('/cam1', stamp, stamp + 5 * MS, frame):
            stamps.append(group.stamp_ns)
        if frame % 2 == 0:   # /cam2 at 15 Hz, slower to arrive
            for group in g.add('/cam2', stamp + 2 * MS, stamp + 30 * MS, frame):
                stamps.append(group.stamp_ns)
    stamps += [group.stamp_ns for group in g.poll(2000 * MS)]
    assert stamps == sorted(stamps) and len(stamps) == 6


def test_bad_configuration_and_unknown_views_are_errors():
    with pytest.raises(ValueError, match='tolerance_ns'):
        GroupingConfig(tolerance_ns=0).check()
    with pytest.raises(ValueError, match='distinct'):
        StampGrouper(['/cam1', '/cam1'])
    with pytest.raises(ValueError, match="unknown view '/cam9'"):
        grouper().add('/cam9', 0, 0, None)


def test_reset_forgets_everything():
    g = grouper(('/cam1', '/cam2'))
    g.add('/cam1', 1000 * MS, 1010 * MS, 'a1')
    g.reset()
    assert g.take_events() == []
    # a fresh start: /cam1's next sample waits for /cam2 again
    assert g.add('/cam1', 20_000 * MS, 20_010 * MS, 'a2') == []
